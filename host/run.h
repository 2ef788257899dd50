/* Running other programs for pvstream-host: PowerShell on Windows (the
 * Hyper-V cmdlets and WMI queries), and anything a backend needs to run.
 *
 * The output is collected in memory (bounded: PVS_HOST_RUN_MAX_OUTPUT),
 * the exit status returned; nothing goes through a shell, so arguments
 * need no quoting. POSIX: fork/exec with pipes; Windows: CreateProcessW
 * with the arguments quoted for CommandLineToArgvW. */
#ifndef PVS_HOST_RUN_H
#define PVS_HOST_RUN_H

#include <stddef.h>

#define PVS_HOST_RUN_MAX_OUTPUT (16u << 20)

/* Runs argv[0] (looked up in PATH) with argv, `input` (may be NULL) on its
 * standard input. On return 0, *out holds its standard output,
 * NUL-terminated (the caller frees it), and *status its exit status (128 +
 * signal on POSIX). Standard error is passed through to ours. Errors:
 * PVS_ENOENT (no such program), PVS_EIO, PVS_ENOMEM, PVS_ERANGE (more output
 * than the maximum), with the reason in why. */
int pvs_host_run(char *const argv[], const char *input, char **out, int *status,
                 char *why, size_t why_len);

/* pvs_host_run with standard error collected too, into *err (same bound,
 * NUL-terminated, the caller frees) instead of passed through: for a
 * caller that reports the program's own error message. */
int pvs_host_run_capture(char *const argv[], const char *input, char **out, char **err,
                         int *status, char *why, size_t why_len);

/* argv as one Windows command line: each argument quoted so that
 * CommandLineToArgvW (and the C runtime's parser) gives it back unchanged.
 * pvs_host_run uses it on Windows; public so tests check it anywhere.
 * *out is the caller's. Returns 0 or PVS_ENOMEM. */
int pvs_host_win_cmdline(char *const argv[], char **out);

/* The PowerShell to run: $PVS_POWERSHELL when set (the tests point it at a
 * fake), else "powershell.exe" (Windows PowerShell 5.1, which ships with
 * every Windows that has Hyper-V). */
const char *pvs_host_powershell_program(void);

/* Runs a script: writes it to a temporary .ps1 file (with a UTF-8 byte
 * order mark, see ps.h) and runs
 *   POWERSHELL -NoProfile -NonInteractive -ExecutionPolicy Bypass -File FILE
 * then removes the file. Same results as pvs_host_run. */
int pvs_host_powershell(const char *script, char **out, int *status, char *why,
                        size_t why_len);

/* pvs_host_powershell, standard error collected as in pvs_host_run_capture. */
int pvs_host_powershell_capture(const char *script, char **out, char **err, int *status,
                                char *why, size_t why_len);

/* Writes `content` (len bytes, as they are) to a new private temporary file
 * whose name ends in `suffix` (".xml"; at most 15 characters): mode 0600
 * in $TMPDIR or /tmp on POSIX, the user's %TEMP% on Windows. Its path goes
 * to path (UTF-8). Returns 0, PVS_ERANGE (path_len too small), PVS_EIO. The
 * caller removes it (pvs_host_remove_file). For what a script copies but
 * must not hold itself: a password never appears in a script's text. */
int pvs_host_temp_file(const char *suffix, const char *content, size_t len, char *path,
                       size_t path_len);
void pvs_host_remove_file(const char *path);

#endif
