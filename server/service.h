/* pvstream as a Windows service (server/service.c): the `pvstream-server
 * service ...` commands, the service process the service manager starts,
 * and the worker it runs. The decisions are in server/supervisor.c.
 *
 *   service install [--config FILE]   register it (LocalSystem, automatic
 *                                     start, restarted on failure)
 *   service uninstall | start | stop | status
 *   service run ...                   what the service manager starts
 *   service worker --stop-event NAME [server options]
 *                                     what the service starts in the
 *                                     console's session: the server
 *
 * Elsewhere than on Windows every command says it is Windows-only. */
#ifndef PVS_SERVICE_H
#define PVS_SERVICE_H

#include <stdbool.h>

/* `pvstream-server service ARGS`: argv[0] is the first word after
 * "service". Returns the process's exit status: 0, 1 (failed, said why),
 * 2 (bad command line); `status`: 0 running, 3 not running, 4 not
 * installed. */
int pvs_service_command(int argc, char **argv);

/* In the worker, before the server starts: takes `--stop-event NAME` out of
 * argv, sends the log (and stderr) to the service's log directory, and
 * calls on_stop() (from another thread; it may only set a flag) when the
 * service signals the event. Returns 0, or a negative PVS_E* code after
 * saying why; PVS_ENOTSUP elsewhere than on Windows. */
int pvs_service_worker_begin(int *argc, char **argv, void (*on_stop)(void));

/* Whether the pvstream service is installed here (always false elsewhere
 * than on Windows). */
bool pvs_service_installed(void);

#endif
