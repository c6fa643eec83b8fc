# thoth: Intune Remediations detection script. Run this script using the logged-on credentials:
# Yes; Run script in 64-bit PowerShell: Yes (and it relaunches itself there otherwise). Exit 1 =
# some MCP server of this user is not governed or has drifted (`thoth status`, against the tenant
# and mode of thoth's policy key), so Intune runs remediation-remediate.ps1. It never checks the
# version: that is the compliance script's job, and a version problem is not one a remediation fixes.
# Output: one line (Intune keeps 2,048 characters).

# Intune's agent is a 32-bit process: in it, Program Files and HKLM\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}

# The log: with Intune's own when this user may write there, else in the user's profile.
$logName = "thoth-remediation-$env:USERNAME.log"
try {
  Start-Transcript -Path (Join-Path $env:ProgramData "Microsoft\IntuneManagementExtension\Logs\$logName") -Append -ErrorAction Stop | Out-Null
} catch {
  New-Item -ItemType Directory -Force -Path (Join-Path $env:LOCALAPPDATA 'thoth') | Out-Null
  Start-Transcript -Path (Join-Path $env:LOCALAPPDATA "thoth\$logName") -Append | Out-Null
}
# Where the MSI put thoth (HKLM\SOFTWARE\Thoth, admins only), node.exe and the entry beside it.
$thothDir = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Thoth' -ErrorAction SilentlyContinue).InstallDir
if (-not $thothDir) { $thothDir = Join-Path $env:ProgramW6432 'thoth' }
$node = Join-Path $thothDir 'node.exe'
$entry = Join-Path $thothDir 'lib\bin\run.js'
if (-not (Test-Path -LiteralPath $node)) {
  Write-Output 'thoth is not installed (the Win32 app installs it)'
  Stop-Transcript | Out-Null
  exit 0
}
& $node $entry status | Out-Host
$result = $LASTEXITCODE
Stop-Transcript | Out-Null
if ($result -eq 0) {
  Write-Output 'thoth: every MCP server is governed'
  exit 0
}
Write-Output "thoth: MCP servers not governed or drifted (thoth status exit $result)"
exit 1
