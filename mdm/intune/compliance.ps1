# thoth: Intune custom compliance discovery script (Devices > Compliance > Scripts; runs as SYSTEM).
# Prints one line of JSON for compliance.json's rules: whether thoth is installed, its version, and
# whether that version meets THOTH_MIN_VERSION from thoth's policy key (thoth compares, semver).
# Raising the minimum marks devices non-compliant until a newer package reaches them; it never
# makes the Win32 app reinstall the same version, whose detection is its own MSI product code.

# Intune's agent is a 32-bit process: in it, Program Files and HKLM\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}

$logs = Join-Path $env:ProgramData 'Microsoft\IntuneManagementExtension\Logs'
Start-Transcript -Path (Join-Path $logs 'thoth-compliance.log') -Append | Out-Null
# Where the MSI put thoth (HKLM\SOFTWARE\Thoth, admins only), node.exe and the entry beside it.
$thothDir = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Thoth' -ErrorAction SilentlyContinue).InstallDir
if (-not $thothDir) { $thothDir = Join-Path $env:ProgramW6432 'thoth' }
$node = Join-Path $thothDir 'node.exe'
$entry = Join-Path $thothDir 'lib\bin\run.js'
$result = [ordered]@{ThothInstalled = $false; ThothVersion = '0.0.0'; ThothMeetsMinimumVersion = $false}
$installed = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Thoth' -ErrorAction SilentlyContinue).Version
if ($installed -and (Test-Path -LiteralPath $node)) {
  $result.ThothInstalled = $true
  $result.ThothVersion = [string]$installed
  $answer = & $node $entry health --format jamf-ea --field meets-min-version
  Write-Host "thoth health --field meets-min-version: $answer (exit $LASTEXITCODE)"
  $result.ThothMeetsMinimumVersion = ($answer -eq '<result>true</result>' -or $answer -eq '<result>no-minimum</result>')
}
Stop-Transcript | Out-Null
return $result | ConvertTo-Json -Compress
