# thoth: Intune platform script (runs as SYSTEM, 64-bit): thoth's managed settings, in thoth's own
# policy key HKLM\SOFTWARE\Policies\Thoth (names = the THOTH_* variables; see `thoth config show`).
$settings = [ordered]@{
  THOTH_TENANT_ID         = 'acme'
  THOTH_ENV               = 'prod'
  THOTH_ENFORCEMENT_MODE  = 'progressive'
  THOTH_MIN_VERSION       = '0.1.0'
  THOTH_ENROLLMENT_SOURCE = 'intune'
}
# The Intune device ID (EntDMID of the MDM enrollment) as the endpoint identity.
$enrollment = Get-ChildItem 'HKLM:\SOFTWARE\Microsoft\Enrollments' -ErrorAction SilentlyContinue |
  ForEach-Object { Get-ItemProperty -LiteralPath (Join-Path $_.PSPath 'DMClient\MS DM Server') -ErrorAction SilentlyContinue } |
  Where-Object { $_.EntDMID } | Select-Object -First 1
if ($enrollment) { $settings['THOTH_INTUNE_DEVICE_ID'] = $enrollment.EntDMID }
$key = 'HKLM:\SOFTWARE\Policies\Thoth'
New-Item -Path $key -Force | Out-Null
foreach ($name in $settings.Keys) { New-ItemProperty -LiteralPath $key -Name $name -Value $settings[$name] -PropertyType String -Force | Out-Null }
