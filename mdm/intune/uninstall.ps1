# thoth: Intune Win32 app uninstall command (runs as SYSTEM, 64-bit). Restores every user's MCP
# client configs first (a wrapped config without thoth would stop the servers), then removes thoth.
$thoth = Join-Path $env:ProgramFiles 'thoth\thoth.cmd'
if (Test-Path -LiteralPath $thoth) {
  foreach ($userProfile in Get-CimInstance Win32_UserProfile | Where-Object { -not $_.Special -and $_.LocalPath }) {
    $env:USERPROFILE = $userProfile.LocalPath
    $env:APPDATA = Join-Path $userProfile.LocalPath 'AppData\Roaming'
    $env:LOCALAPPDATA = Join-Path $userProfile.LocalPath 'AppData\Local'
    $env:THOTH_HOME = Join-Path $userProfile.LocalPath '.thoth'
    & $thoth unwrap-config --all
  }
}
& (Join-Path $env:ProgramFiles 'nodejs\npm.cmd') uninstall --global --prefix (Join-Path $env:ProgramFiles 'thoth') thoth-mcp
exit $LASTEXITCODE
