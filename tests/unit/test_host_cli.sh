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
expect 2 'it comes with the apply backends' plan --gpu 10de:2704 --vms 2
expect 2 '--backend hyperv' plan --vms 2
expect 2 "only hyperv so far" plan --backend vmware --vms 2
expect 2 'unknown option' plan --backend hyperv --vms 2 --frobnicate
expect 2 'needs --vm-names' plan --backend hyperv --vms 2 --emit-ps "$tmp/a.ps1"
expect 2 '3 names for 2 VMs' plan --backend hyperv --vms 2 --vm-names a,b,c --instance-path X --emit-ps "$tmp/a.ps1"
for cmd in apply drivers check; do
    expect 2 'not implemented yet' $cmd
done
expect 2 'unknown command' frobnicate
[ -e "$tmp/a.ps1" ] && { echo "FAIL: a refused --emit-ps wrote a file" >&2; failed=$((failed + 1)); }

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
expect 2 'unknown option' list --frobnicate
expect 0 '--sysfs-root' list --help

expect 0 'usage' --help
expect 0 '--emit-ps' plan --help

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
