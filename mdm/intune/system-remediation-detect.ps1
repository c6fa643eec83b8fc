# thoth: Intune Remediations detection script for Claude Code's system-wide managed-mcp.json.
# Run this script using the logged-on credentials: No (SYSTEM: only SYSTEM may write that file);
# Run script in 64-bit PowerShell: Yes. Exit 1 = a managed-mcp.json is not governed, so Intune runs
# system-remediation-remediate.ps1. Output: one line.

# Intune's agent is a 32-bit process: in it, Program Files and HKLM\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}

$logs = Join-Path $env:ProgramData 'Microsoft\IntuneManagementExtension\Logs'
Start-Transcript -Path (Join-Path $logs 'thoth-system-remediation.log') -Append | Out-Null
# Where the MSI put thoth (HKLM\SOFTWARE\Thoth, admins only), node.exe and the entry beside it.
$thothDir = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Thoth' -ErrorAction SilentlyContinue).InstallDir
if (-not $thothDir) { $thothDir = Join-Path $env:ProgramW6432 'thoth' }
$node = Join-Path $thothDir 'node.exe'
$entry = Join-Path $thothDir 'lib\bin\run.js'
# Claude Code's managed-mcp.json (%ProgramFiles%\ClaudeCode; older releases: %ProgramData%) is
# written here only when nobody but SYSTEM, Administrators and TrustedInstaller can change or
# redirect it or its folder: SYSTEM would otherwise write wherever a user pointed it.
$managedMcp = @((Join-Path $env:ProgramW6432 'ClaudeCode\managed-mcp.json'), (Join-Path $env:ProgramData 'ClaudeCode\managed-mcp.json'))
function Test-AdminOnly([string]$Path) {
  $trusted = @('S-1-5-18', 'S-1-5-32-544', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
  $write = [Security.AccessControl.FileSystemRights]'WriteData, AppendData, WriteAttributes, WriteExtendedAttributes, Delete, DeleteSubdirectoriesAndFiles, ChangePermissions, TakeOwnership'
  foreach ($target in @($Path, (Split-Path -Parent $Path))) {
    $item = Get-Item -LiteralPath $target -Force -ErrorAction SilentlyContinue
    if (-not $item -or ($item.Attributes -band [IO.FileAttributes]::ReparsePoint)) { return $false }
    $acl = Get-Acl -LiteralPath $target
    if ($trusted -notcontains $acl.GetOwner([Security.Principal.SecurityIdentifier]).Value) { return $false }
    foreach ($rule in $acl.GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier])) {
      if ($rule.AccessControlType -ne 'Allow' -or ($rule.PropagationFlags -band [Security.AccessControl.PropagationFlags]::InheritOnly)) { continue }
      # 0x50000000: GENERIC_ALL and GENERIC_WRITE, which an ACE may hold unmapped.
      if ($trusted -notcontains $rule.IdentityReference.Value -and (($rule.FileSystemRights -band $write) -or ([int]$rule.FileSystemRights -band 0x50000000))) { return $false }
    }
  }
  return $true
}
$ungoverned = @()
if (Test-Path -LiteralPath $node) {
  foreach ($file in $managedMcp) {
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { continue }
    & $node $entry status --client claude-code $file | Out-Host
    if ($LASTEXITCODE -ne 0) { $ungoverned += $file }
  }
}
Stop-Transcript | Out-Null
if ($ungoverned.Count -eq 0) {
  Write-Output 'thoth: managed-mcp.json governed, or none'
  exit 0
}
Write-Output "thoth: not governed: $($ungoverned -join ', ')"
exit 1
