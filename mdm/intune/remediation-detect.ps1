# thoth: Intune Remediations detection script. Settings: "Run this script using the logged-on
# credentials: Yes", "Run script in 64-bit PowerShell: Yes". Exit 1 = some MCP server is not
# governed or has drifted, so Intune runs remediation-remediate.ps1.
$thoth = Join-Path $env:ProgramFiles 'thoth\thoth.cmd'
if (-not (Test-Path -LiteralPath $thoth)) { Write-Output 'thoth is not installed (the Win32 app installs it)'; exit 0 }
& $thoth health --intune-detect
if ($LASTEXITCODE -eq 0) { exit 0 }
Write-Output 'thoth: MCP servers not governed or drifted'
exit 1
