# thoth: Intune Win32 app install command (runs as SYSTEM, 64-bit):
#   powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\install.ps1
# The .intunewin package holds this script and thoth-mcp-<version>.tgz (`npm pack`); Node.js LTS
# is a dependency app. thoth lands in %ProgramFiles%\thoth\thoth.cmd, writable only by admins.
$ErrorActionPreference = 'Stop'
$package = Get-ChildItem -LiteralPath $PSScriptRoot -Filter 'thoth-mcp-*.tgz' | Select-Object -First 1
if (-not $package) { Write-Error 'thoth-mcp-*.tgz is missing from the package'; exit 1 }
$npm = Join-Path $env:ProgramFiles 'nodejs\npm.cmd'
& $npm install --global --prefix (Join-Path $env:ProgramFiles 'thoth') --no-audit --no-fund $package.FullName
exit $LASTEXITCODE
