# thoth: Intune Remediations remediation script (logged-on credentials, 64-bit): puts every MCP
# server of the user's clients behind thoth again. thoth itself reads the tenant and mode from the
# policy key that set-policy.ps1 writes (HKLM\SOFTWARE\Policies\Thoth), as `thoth health` does.
$thoth = Join-Path $env:ProgramFiles 'thoth\thoth.cmd'
& $thoth wrap-config --all
exit $LASTEXITCODE
