# thoth: Intune Win32 app uninstall command (System):
#   powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\uninstall.ps1
# Restores every user profile's MCP client configs and Claude Code's managed-mcp.json with
# `thoth unwrap-config`, then removes thoth (msiexec /x). Every profile is first checked without
# writing (--dry-run), so a config thoth cannot read stops the uninstall before anything changed;
# a failure in either round exits 1 and leaves thoth installed: the configs still need it.
# Exit: 0 removed or not installed; 1 an unwrap failed, nothing removed; else msiexec's code.
# Logs: %ProgramData%\Microsoft\IntuneManagementExtension\Logs\thoth-uninstall.log (each profile)
# and thoth-msi-uninstall.log.

# Intune's agent is a 32-bit process: in it, Program Files and HKLM\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}

$logs = Join-Path $env:ProgramData 'Microsoft\IntuneManagementExtension\Logs'
Start-Transcript -Path (Join-Path $logs 'thoth-uninstall.log') -Append | Out-Null

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

$productCode = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Thoth' -ErrorAction SilentlyContinue).ProductCode
if (-not (Test-Path -LiteralPath $node) -or -not $productCode) {
  Write-Output 'thoth is not installed'
  Stop-Transcript | Out-Null
  exit 0
}
# Every user profile, then every managed-mcp.json (a path).
$targets = @(Get-CimInstance Win32_UserProfile | Where-Object { -not $_.Special -and $_.LocalPath -and (Test-Path -LiteralPath $_.LocalPath) })
foreach ($file in $managedMcp) {
  if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { continue }
  if (-not (Test-AdminOnly $file)) {
    Write-Output "$file is writable by others than administrators, or a link: not touched; thoth was NOT removed"
    Stop-Transcript | Out-Null
    exit 1
  }
  $targets += $file
}
# thoth's own output goes to the log (Out-Host), the exit code back to the caller.
function Invoke-Unwrap($Target, [bool]$DryRun) {
  $extra = @()
  if ($DryRun) { $extra = @('--dry-run') }
  if ($Target -is [string]) {
    & $node $entry unwrap-config --client claude-code $Target @extra | Out-Host
  } else {
    # The user's own locations, as thoth sees them when that user runs it.
    $env:USERPROFILE = $Target.LocalPath
    $env:APPDATA = Join-Path $Target.LocalPath 'AppData\Roaming'
    $env:LOCALAPPDATA = Join-Path $Target.LocalPath 'AppData\Local'
    $env:THOTH_HOME = Join-Path $Target.LocalPath '.thoth'
    & $node $entry unwrap-config --all @extra | Out-Host
  }
  return $LASTEXITCODE
}
$saved = @{USERPROFILE = $env:USERPROFILE; APPDATA = $env:APPDATA; LOCALAPPDATA = $env:LOCALAPPDATA; THOTH_HOME = $env:THOTH_HOME}
foreach ($dryRun in @($true, $false)) {
  $failed = @()
  foreach ($target in $targets) {
    $name = if ($target -is [string]) { $target } else { $target.LocalPath }
    $result = Invoke-Unwrap $target $dryRun
    Write-Output "$name`: unwrap-config$(if ($dryRun) { ' --dry-run' }) exit $result"
    # 10: the dry run found something to restore.
    if (-not ($result -eq 0 -or ($dryRun -and $result -eq 10))) { $failed += $name }
  }
  if ($failed.Count -gt 0) {
    Write-Output "unwrap-config failed for: $($failed -join ', '); thoth was NOT removed (the configs still need it)"
    Stop-Transcript | Out-Null
    exit 1
  }
}
foreach ($name in $saved.Keys) {
  if ($null -eq $saved[$name]) { Remove-Item -Path "Env:$name" -ErrorAction SilentlyContinue } else { Set-Item -Path "Env:$name" -Value $saved[$name] }
}
$arguments = @('/x', $productCode, '/qn', '/norestart', '/l*v', "`"$(Join-Path $logs 'thoth-msi-uninstall.log')`"")
$code = (Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\msiexec.exe') -ArgumentList $arguments -Wait -PassThru).ExitCode
Write-Output "msiexec /x $productCode`: exit $code"
Stop-Transcript | Out-Null
exit $code
