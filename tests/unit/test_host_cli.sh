#!/bin/sh
# pvstream-host's command line: bad input exits 2 with a message on stderr
# and writes nothing; good input exits 0.
# Usage: test_host_cli.sh PATH/TO/pvstream-host
set -u
host=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0

# expect STATUS 'TEXT IN STDERR' ARGS...
expect() {
    want=$1; text=$2; shift 2
    "$host" "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ] && grep -qF -- "$text" "$tmp/err" "$tmp/out"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: pvstream-host $*: status $got (want $want), no '$text' in:" >&2
        cat "$tmp/err" "$tmp/out" >&2
    fi
}

expect 2 '0 VMs' plan --backend hyperv --vms 0
expect 2 'at most 64' plan --backend hyperv --vms 65
expect 2 '--vms N is required' plan --backend hyperv
expect 2 'item 2 is empty' plan --backend hyperv --vms 3 --weights 1,,2
expect 2 "item 2 'x' is not a whole number" plan --backend hyperv --vms 3 --weights 1,x,2
expect 2 'item 1 is 0' plan --backend hyperv --vms 2 --weights 0,1
expect 2 '2 weights for 3 VMs' plan --backend hyperv --vms 3 --weights 1,2
expect 2 'larger than 2^64-1' plan --backend hyperv --vms 2 --vram 18446744073709551616
expect 2 'not a whole number' plan --backend hyperv --vms 2 --decode 1e9
expect 2 "no GPU has the id '10de:2704'" plan --gpu 10de:2704 --vms 2 --sysfs-root "$tmp"
expect 2 '--backend hyperv' plan --vms 2
expect 2 "expected hyperv, mdev or sriov" plan --backend vmware --vms 2
expect 2 'give --gpu ID' plan --backend mdev --vms 2
expect 2 'needs --vm-names' plan --backend hyperv --vms 2 --save "$tmp/p.ini"
expect 2 'unknown option' plan --backend hyperv --vms 2 --frobnicate
expect 2 'needs --vm-names' plan --backend hyperv --vms 2 --emit-ps "$tmp/a.ps1"
expect 2 '3 names for 2 VMs' plan --backend hyperv --vms 2 --vm-names a,b,c --instance-path X --emit-ps "$tmp/a.ps1"
expect 2 'unknown command' frobnicate
[ -e "$tmp/a.ps1" ] && { echo "FAIL: a refused --emit-ps wrote a file" >&2; failed=$((failed + 1)); }
[ -e "$tmp/p.ini" ] && { echo "FAIL: a refused --save wrote a file" >&2; failed=$((failed + 1)); }

expect 0 '333333334' plan --backend hyperv --vms 3
expect 0 '"optimal": 333333334' plan --backend hyperv --vms 3 --json
expect 0 'encode-sessions' plan --backend hyperv --vms 3 --encode-sessions 2 --json
expect 0 'weight 3' plan --backend hyperv --vms 3 --weights 1,2,3
expect 0 'GPU partition plan' plan --backend hyperv --vms 2 --vm-names "it's,b" \
    --instance-path 'PCI#VEN_10DE' --emit-ps "$tmp/a.ps1"
if grep -qF "(Get-PvsVM -Name 'it''s')" "$tmp/a.ps1" 2>/dev/null; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL: --emit-ps did not write the quoted name" >&2
fi

# list, against a fake sysfs tree: an mdev parent with one type and an
# SR-IOV physical function; and an empty tree (exit 0, with hints).
r=$tmp/root
mkdir -p "$r/sys/class/mdev_bus/0000:01:00.0/mdev_supported_types/nvidia-222" \
         "$r/sys/bus/pci/devices/0000:01:00.0" "$r/sys/bus/pci/devices/0000:03:00.0" \
         "$r/empty"
t=$r/sys/class/mdev_bus/0000:01:00.0/mdev_supported_types/nvidia-222
printf 'GRID "T4"\n' >"$t/name"; printf 'vfio-pci\n' >"$t/device_api"
printf '16\n' >"$t/available_instances"
d=$r/sys/bus/pci/devices
printf '0x10de\n' >"$d/0000:01:00.0/vendor"; printf '0x1eb8\n' >"$d/0000:01:00.0/device"
printf '0x030200\n' >"$d/0000:01:00.0/class"
printf '0x1002\n' >"$d/0000:03:00.0/vendor"; printf '0x7362\n' >"$d/0000:03:00.0/device"
printf '0x030000\n' >"$d/0000:03:00.0/class"
printf '7\n' >"$d/0000:03:00.0/sriov_totalvfs"; printf '0\n' >"$d/0000:03:00.0/sriov_numvfs"
expect 0 'type nvidia-222: 16 available' list --sysfs-root "$r"
expect 0 'virtual functions: 0 of 7 enabled' list --sysfs-root "$r"
expect 0 '"name": "GRID \"T4\"", "description": "", "device_api": "vfio-pci", "available_instances": 16}]},' \
    list --sysfs-root "$r" --json
expect 0 '{"backend": "sriov", "id": "0000:03:00.0", "vendor_id": "1002", "device_id": "7362", "name": "", "total_vfs": 7, "num_vfs": 0}' \
    list --sysfs-root "$r" --json
expect 0 'no partitionable GPU found' list --sysfs-root "$r/empty"
"$host" list --sysfs-root "$r/empty" --json >"$tmp/out" 2>/dev/null
if [ $? -eq 0 ] && [ "$(cat "$tmp/out")" = '{"gpus": []}' ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL: list --json on an empty tree printed:" >&2; cat "$tmp/out" >&2
fi
expect 2 'is not a directory' list --sysfs-root "$r/nonexistent"

# plan --gpu, apply and check against the same tree. The check commands
# must take the Linux path even where the tests set a fake PowerShell.
saved_ps=${PVS_POWERSHELL-}; unset PVS_POWERSHELL
t=$r/sys/class/mdev_bus/0000:01:00.0/mdev_supported_types/nvidia-222
: >"$t/create"; mkdir -p "$r/sys/bus/mdev/devices"
expect 2 'this host has 0000:01:00.0 (mdev), 0000:03:00.0 (sriov)' \
    plan --gpu 0000:01:00 --vms 2 --sysfs-root "$r"
expect 2 'no GPU has the id' plan --gpu 0000:01:00.0x --vms 2 --sysfs-root "$r"
expect 2 '16 instances available, fewer than 17 VMs' plan --gpu 0000:01:00.0 --vms 17 --sysfs-root "$r"
expect 2 'no mdev type' plan --gpu 0000:01:00.0 --type nvidia-1 --vms 2 --sysfs-root "$r"
expect 2 '--weights does not apply to mdev' plan --gpu 0000:01:00.0 --vms 2 --weights 1,2 --sysfs-root "$r"
expect 2 '7 virtual functions (sriov_totalvfs), fewer than 8 VMs' plan --gpu 0000:03:00.0 --vms 8 --sysfs-root "$r"
expect 2 '--emit-ps writes' plan --gpu 0000:03:00.0 --vms 2 --sysfs-root "$r" --emit-ps "$tmp/b.ps1"
expect 2 'is not a directory' plan --gpu 0000:03:00.0 --vms 2 --sysfs-root "$r/nonexistent"
[ -e "$tmp/b.ps1" ] && { echo "FAIL: a refused --emit-ps wrote a file" >&2; failed=$((failed + 1)); }
expect 0 'GPU: 0000:03:00.0' plan --gpu 0000:03:00.0 --vms 2 --sysfs-root "$r"
expect 0 '"gpu": "0000:01:00.0", "mdev_type": "nvidia-222"' plan --gpu 0000:01:00.0 --vms 2 --sysfs-root "$r" --json
expect 0 'backend mdev' plan --gpu 0000:01:00.0 --vms 2 --vm-names "web,it's" --sysfs-root "$r" \
    --save "$tmp/p.ini"
expect 0 "write '" apply "$tmp/p.ini" --sysfs-root "$r" --dry-run
[ -s "$t/create" ] && { echo "FAIL: apply --dry-run wrote" >&2; failed=$((failed + 1)); }
expect 0 "virsh attach-device 'it'\\''s'" apply "$tmp/p.ini" --sysfs-root "$r"
if [ "$(grep -c '^uuid = ' "$tmp/p.ini")" -eq 2 ] &&
   [ "$(sed -n 's/^uuid = //p' "$tmp/p.ini")" = "$(cat "$t/create")" ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL: apply did not write the plan's UUIDs to create" >&2
fi
printf '0\n' >"$t/available_instances"
expect 2 'has 0 instances available' apply "$tmp/p.ini" --sysfs-root "$r"
sed 's/^vms = 2/vms = 3/' "$tmp/p.ini" >"$tmp/bad.ini"
expect 2 'bad.ini:6: vms = 3, but there is no [vm.3] section' apply "$tmp/bad.ini" --sysfs-root "$r"
expect 2 'cannot open' apply "$tmp/none.ini"
expect 2 "VM name 2 'b;c'" plan --backend hyperv --vms 2 --vm-names 'a,b;c' --instance-path 'PCI#X' \
    --save "$tmp/h.ini"
[ -e "$tmp/h.ini" ] && { echo "FAIL: a refused --save wrote a file" >&2; failed=$((failed + 1)); }
expect 0 'encode = 9223372036854775808,9223372036854775808,9223372036854775808' \
    plan --backend hyperv --vms 2 --vm-names 'a,b' --instance-path 'PCI#VEN_10DE&X' --save -
expect 2 'which plan?' apply
expect 2 'unknown option' apply "$tmp/p.ini" --frobnicate
expect 0 '--remove' apply --help
expect 2 'the VM checks are for Hyper-V' check --vm gaming
expect 2 'is not a directory' check --sysfs-root "$r/nonexistent"
expect 1 'FAIL  iommu' check --sysfs-root "$r"
mkdir -p "$r/sys/kernel/iommu_groups/0" "$r/sys/module/vfio_pci" "$r/sys/module/vfio_iommu_type1" \
         "$r/sys/module/mdev"
expect 0 'no check failed' check --sysfs-root "$r"
expect 0 '"failed": 0}' check --sysfs-root "$r" --json
[ -n "$saved_ps" ] && export PVS_POWERSHELL="$saved_ps"
expect 2 'unknown option' list --frobnicate
expect 0 '--sysfs-root' list --help

expect 0 'usage' --help
expect 0 '--emit-ps' plan --help

# drivers sync on folders: a fake host (the fixture INF's package and the
# files it installs in System32 and SysWOW64) and guest; then --vm through
# the fake PowerShell, whose output points at the same folders.
d=$tmp/drv
pkg=$d/host/Windows/System32/DriverStore/FileRepository/pvsdisp.inf_amd64_aaaa
mkdir -p "$pkg" "$d/host/Windows/System32/NV" "$d/host/Windows/SysWOW64" "$d/guest/Windows/System32"
cp "$PVS_TEST_DATA/host/inf/pvsdisp.inf" "$pkg/"
printf 'umd' >"$pkg/pvsumd64.dll"
for f in pvsapi64.dll pvscoinst.dll pvscuda64.dll pvsoverlay.dll NV/pvsprofile.dat; do
    printf '%s' "$f" >"$d/host/Windows/System32/$f"
done
printf 'api32' >"$d/host/Windows/SysWOW64/pvsapi.dll"
expect 0 'would copy Windows/System32/pvsapi64.dll (new, 12 bytes)' drivers sync --package "$pkg" \
    --host-windows "$d/host/Windows" --guest-root "$d/guest" --dry-run
[ -e "$d/guest/Windows/System32/pvsapi64.dll" ] && { echo "FAIL: drivers sync --dry-run copied" >&2; failed=$((failed + 1)); }
expect 0 'done: 8 files copied' drivers sync --package "$pkg" --host-windows "$d/host/Windows" --guest-root "$d/guest"
expect 0 'done: 0 files copied (0 bytes), 8 unchanged skipped' drivers sync --package "$pkg" \
    --host-windows "$d/host/Windows" --guest-root "$d/guest"
if grep -qx 'driver_version = 31.0.15.5222' "$d/guest/Windows/System32/HostDriverStore/pvstream-drivers.manifest"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL: drivers sync wrote no manifest with the driver version" >&2
fi
expect 2 'does not exist' drivers sync --package "$pkg" --host-windows "$d/host/Windows" --guest-root "$d/none"
expect 2 'missing --guest-root' drivers sync --package "$pkg" --host-windows "$d/host/Windows"
expect 2 'not both' drivers sync --vm game --package "$pkg"
expect 2 'say where to copy' drivers sync
expect 2 'unknown subcommand' drivers frobnicate
expect 2 'unknown option' drivers sync --frobnicate
expect 2 'usage' drivers
expect 0 '--guest-root' drivers --help
printf 'vm_count=1\r\nvm_state=Off\r\nhost_windows=%s\r\ngpu=G\r\ngpu_name=Fake GPU\r\n' "$d/host/Windows" >"$d/ps.out"
printf 'driver_version=31.0.15.5222\r\npackage_inf=%s/pvsdisp.inf\r\n' "$pkg" >>"$d/ps.out"
printf 'disk=%s/a.vhdx\r\nmounted=%s/a.vhdx\r\nwindows=%s/a.vhdx|%s\r\n' "$d" "$d" "$d" "$d/guest" >>"$d/ps.out"
PVS_POWERSHELL=$PVS_FAKE_POWERSHELL FAKE_PS_OUTPUT=$d/ps.out FAKE_PS_LOG=$d/last.ps1 \
    expect 0 '8 unchanged skipped' drivers sync --vm "it's"
if grep -qF "Dismount-VHD -Path \$path" "$d/last.ps1" && grep -qF "@('$d/a.vhdx')" "$d/last.ps1"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL: drivers sync --vm did not dismount the disk it mounted" >&2
fi
printf 'vm_count=1\nvm_state=Running\n' >"$d/ps.out"
PVS_POWERSHELL=$PVS_FAKE_POWERSHELL FAKE_PS_OUTPUT=$d/ps.out \
    expect 2 'Running, not off' drivers sync --vm game

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
