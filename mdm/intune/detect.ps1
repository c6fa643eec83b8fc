# thoth: Intune Win32 app custom detection script (runs as SYSTEM, 64-bit).
# Intune counts the app as installed only when the script exits 0 AND writes to stdout, which is
# exactly what `thoth health --intune-detect` does when thoth meets THOTH_MIN_VERSION (from
# HKLM\SOFTWARE\Policies\Thoth) and every server it can see is governed.
$thoth = Join-Path $env:ProgramFiles 'thoth\thoth.cmd'
if (-not (Test-Path -LiteralPath $thoth)) { exit 1 }
& $thoth health --intune-detect
exit $LASTEXITCODE
