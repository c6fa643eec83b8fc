# thoth: Intune Win32 app install command (Install behavior: System):
#   powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\install.ps1
# Installs the thoth-<version>-win-x64.msi of this package (per machine, quiet; a newer version
# replaces the older one, a downgrade is refused), then wraps Claude Code's system-wide
# managed-mcp.json, which only SYSTEM may write. Tenant and mode come from thoth's policy key.
# Exit: msiexec's code (0 installed, 3010 installed and a restart is pending, 1618 another install
# is running, 1603 failed, ...), which Intune maps itself; 1 when the MSI is missing.
# Logs: %ProgramData%\Microsoft\IntuneManagementExtension\Logs\thoth-install.log (this script) and
# thoth-msi-install.log (Windows Installer).

# Intune's agent is a 32-bit process: in it, Program Files and HKLM\SOFTWARE are the 32-bit ones.
# Start again in 64-bit PowerShell (sysnative) and pass its exit code on.
if ($env:PROCESSOR_ARCHITEW6432) {
  & "$env:SystemRoot\sysnative\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath @args
  exit $LASTEXITCODE
}

$logs = Join-Path $env:ProgramData 'Microsoft\IntuneManagementExtension\Logs'
Start-Transcript -Path (Join-Path $logs 'thoth-install.log') -Append | Out-Null
$msi = Get-ChildItem -LiteralPath $PSScriptRoot -Filter 'thoth-*-win-x64.msi' | Select-Object -First 1
if (-not $msi) {
  Write-Output 'thoth-*-win-x64.msi is missing from the package'
  Stop-Transcript | Out-Null
  exit 1
}
$arguments = @('/i', "`"$($msi.FullName)`"", '/qn', '/norestart', '/l*v', "`"$(Join-Path $logs 'thoth-msi-install.log')`"")
$code = (Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\msiexec.exe') -ArgumentList $arguments -Wait -PassThru).ExitCode
Write-Output "msiexec /i $($msi.Name): exit $code"

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

if ($code -eq 0 -or $code -eq 3010) {
  foreach ($file in $managedMcp) {
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { continue }
    if (Test-AdminOnly $file) {
      & $node $entry wrap-config --client claude-code $file
      Write-Output "wrap-config $file`: exit $LASTEXITCODE"
    } else {
      Write-Output "$file left as it is: it or its folder is writable by others than administrators, or a link"
    }
  }
}
Stop-Transcript | Out-Null
exit $code
