# thoth: Intune Remediations remediation script (logged-on credentials, 64-bit): puts every MCP
# server of this user's clients behind thoth again. thoth reads the tenant and mode from its policy
# key (HKLM\SOFTWARE\Policies\Thoth: the ADMX settings, or set-policy.ps1), as `thoth status` does.
# Exit: wrap-config's code (0 done; 3 a config thoth cannot read; 4 no config; 5 the file changed
# meanwhile or is locked). Output: one line.

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
  exit 1
}
& $node $entry wrap-config --all | Out-Host
$result = $LASTEXITCODE
Stop-Transcript | Out-Null
Write-Output "thoth wrap-config --all: exit $result"
exit $result
