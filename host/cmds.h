/* pvstream-host's commands other than plan and list, each in its own file:
 * each takes main's argc/argv (argv[1] is the command) and returns the
 * process's exit status (0 done, 1 failed, 2 bad input: nothing changed). */
#ifndef PVS_HOST_CMDS_H
#define PVS_HOST_CMDS_H

#include <stdbool.h>

int pvs_host_cmd_apply(int argc, char **argv);    /* cmd_apply.c */
int pvs_host_cmd_check(int argc, char **argv);    /* cmd_check.c */
int pvs_host_cmd_drivers(int argc, char **argv);  /* cmd_drivers.c */
int pvs_host_cmd_vm(int argc, char **argv);       /* cmd_vm.c */

/* `drivers sync --vm NAME`: mounts the VM's disks, copies the host's GPU
 * driver onto its Windows volume, dismounts; prints as the command does.
 * `vm create` runs it on the VM it made. Returns the exit status. */
int pvs_host_drivers_sync_vm(const char *vm, bool dry_run);

#endif
