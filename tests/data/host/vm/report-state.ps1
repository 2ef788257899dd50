# Written by pvstream-host vm create. Run by a scheduled task as SYSTEM at
# startup and every minute: the pvstream service's state, for the host's
# pvstream-host vm status (Hyper-V's data exchange carries it there).
$state = 'absent'
$svc = Get-Service -Name 'pvstream' -ErrorAction SilentlyContinue
if ($svc) { $state = [string]$svc.Status }
$key = 'HKLM:\SOFTWARE\Microsoft\Virtual Machine\Guest'
if (-not (Test-Path -LiteralPath $key)) { New-Item -Path $key -Force | Out-Null }
$when = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
Set-ItemProperty -LiteralPath $key -Name 'PvstreamService' -Value ($state + ' ' + $when)
