# thoth: Intune platform script (Run this script using the logged-on credentials: No; Run script in
# 64-bit PowerShell host: Yes, and it relaunches itself there otherwise): thoth's managed settings in
# its policy key HKLM\SOFTWARE\Policies\Thoth (names = the THOTH_* variables; `thoth config show`).
# Prefer the ADMX template (thoth.admx) in the Settings Catalog; this script is for tenants that
# cannot import ADMX. Edit the values below first: it refuses the placeholder tenant.
# Exit: 0 written; 1 a value is still the placeholder or invalid.

# Intune's agent is a 32-bit process: in it, Program Files and HKLM\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}

$settings = [ordered]@{
  THOTH_TENANT_ID         = '<your-tenant-id>'
  THOTH_ENV               = 'prod'
  THOTH_ENFORCEMENT_MODE  = 'progressive'
  THOTH_MIN_VERSION       = '0.1.0'
  THOTH_ENROLLMENT_SOURCE = 'intune'
}
$logs = Join-Path $env:ProgramData 'Microsoft\IntuneManagementExtension\Logs'
Start-Transcript -Path (Join-Path $logs 'thoth-set-policy.log') -Append | Out-Null
$problem = $null
if ($settings.THOTH_ENV -notin @('prod', 'staging', 'dev')) { $problem = 'THOTH_ENV must be prod, staging or dev' }
if ($settings.THOTH_ENFORCEMENT_MODE -notin @('progressive', 'step_up', 'block', 'observe')) { $problem = 'THOTH_ENFORCEMENT_MODE must be progressive, step_up, block or observe' }
if ($settings.THOTH_TENANT_ID -notmatch '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$') { $problem = "THOTH_TENANT_ID is '$($settings.THOTH_TENANT_ID)': put your tenant ID at the top of set-policy.ps1" }
if ($problem) {
  Write-Output "set-policy.ps1: $problem; nothing written"
  Stop-Transcript | Out-Null
  exit 1
}
# The Intune device ID (EntDMID of the MDM enrollment) as the endpoint identity.
$enrollment = Get-ChildItem 'HKLM:\SOFTWARE\Microsoft\Enrollments' -ErrorAction SilentlyContinue |
  ForEach-Object { Get-ItemProperty -LiteralPath (Join-Path $_.PSPath 'DMClient\MS DM Server') -ErrorAction SilentlyContinue } |
  Where-Object { $_.EntDMID } | Select-Object -First 1
if ($enrollment) { $settings['THOTH_INTUNE_DEVICE_ID'] = $enrollment.EntDMID }
$key = 'HKLM:\SOFTWARE\Policies\Thoth'
New-Item -Path $key -Force | Out-Null
foreach ($name in $settings.Keys) { New-ItemProperty -LiteralPath $key -Name $name -Value $settings[$name] -PropertyType String -Force | Out-Null }
Write-Output "set-policy.ps1: wrote $($settings.Count) values to $key"
Stop-Transcript | Out-Null
exit 0
