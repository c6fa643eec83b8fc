# thoth: Intune Remediations remediation script (logged-on credentials, 64-bit): puts every MCP
# server of the user's clients behind thoth again. Tenant and mode come from the policy key that
# set-policy.ps1 writes (HKLM\SOFTWARE\Policies\Thoth).
$thoth = Join-Path $env:ProgramFiles 'thoth\thoth.cmd'
$policy = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Policies\Thoth' -ErrorAction SilentlyContinue
$mode = if ($policy.THOTH_ENFORCEMENT_MODE) { $policy.THOTH_ENFORCEMENT_MODE } else { 'progressive' }
if (-not $policy.THOTH_TENANT_ID) { Write-Output 'thoth: THOTH_TENANT_ID is not set in HKLM\SOFTWARE\Policies\Thoth'; exit 1 }
& $thoth wrap-config --all --tenant-id $policy.THOTH_TENANT_ID --enforcement-mode $mode
exit $LASTEXITCODE
