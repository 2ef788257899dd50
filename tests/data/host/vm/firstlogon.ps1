# Written by pvstream-host vm create. Run once, elevated, at the first
# sign-in (the answer file's first-logon command): installs pvstream-server
# as a service and tells the host how it went (pvstream-host vm status).
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$dir = Join-Path $env:ProgramFiles 'pvstream'
$setup = Join-Path $dir 'setup'
try { Start-Transcript -LiteralPath (Join-Path $setup 'firstlogon.log') -Append | Out-Null } catch { }

# Hyper-V's data exchange carries this key's values to the host.
function Send-PvsState([string]$Name, [string]$Value) {
    try {
        $key = 'HKLM:\SOFTWARE\Microsoft\Virtual Machine\Guest'
        if (-not (Test-Path -LiteralPath $key)) { New-Item -Path $key -Force | Out-Null }
        Set-ItemProperty -LiteralPath $key -Name $Name -Value $Value
    } catch {
        Write-Warning ('cannot report to the host: ' + $_.Exception.Message)
    }
}

try {
    $server = Join-Path $dir 'pvstream-server.exe'
    # Clients reach the server (UDP 47100-47102, and the GameStream ports)
    # through this rule for the program.
    Get-NetFirewallRule -DisplayName 'pvstream-server' -ErrorAction SilentlyContinue | Remove-NetFirewallRule
    New-NetFirewallRule -DisplayName 'pvstream-server' -Direction Inbound -Program $server -Action Allow | Out-Null
    # The service makes its identity key when it first starts, here in the
    # guest: no two VMs share one.
    & $server service install --config (Join-Path $dir 'vm.ini')
    if ($LASTEXITCODE -ne 0) { throw ('pvstream-server service install failed (exit status {0})' -f $LASTEXITCODE) }
    & $server service start
    if ($LASTEXITCODE -ne 0) { throw ('pvstream-server service start failed (exit status {0})' -f $LASTEXITCODE) }
    $ps = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $report = Join-Path $setup 'report-state.ps1'
    $action = New-ScheduledTaskAction -Execute $ps -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}"' -f $report)
    $triggers = @((New-ScheduledTaskTrigger -AtStartup),
        (New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 1)))
    Register-ScheduledTask -TaskName 'pvstream state for Hyper-V' -Action $action -Trigger $triggers `
        -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
    Start-ScheduledTask -TaskName 'pvstream state for Hyper-V'
    Send-PvsState 'PvstreamSetup' 'done'
} catch {
    Send-PvsState 'PvstreamSetup' ('failed: ' + $_.Exception.Message + ' (see ' + (Join-Path $setup 'firstlogon.log') + ')')
    Write-Warning ('pvstream setup failed: ' + $_.Exception.Message)
} finally {
    # Without a count Winlogon signs the user in at every boot.
    Remove-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon' `
        -Name 'AutoLogonCount' -ErrorAction SilentlyContinue
    # The answer file holds the password (hidden, not encrypted).
    foreach ($f in @('Panther\unattend.xml', 'Panther\Unattend\unattend.xml')) {
        Remove-Item -LiteralPath (Join-Path $env:SystemRoot $f) -Force -ErrorAction SilentlyContinue
    }
    try { Stop-Transcript | Out-Null } catch { }
}
