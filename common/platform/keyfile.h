/* Files that hold keys or decide who is trusted (net/identity.c's key file
 * and peers file): where they live, reading one only when nobody else can
 * have read or changed it, and rewriting one atomically and privately.
 * keyfile_posix.c implements it with owners and mode bits, keyfile_win32.c
 * with owners and DACLs; the rules are the same, the fixes the messages give
 * are each system's own.
 *
 * Paths are UTF-8. On Windows '/' and '\' both separate components.
 * Not thread-safe against concurrent calls on the same file. */
#ifndef PVS_KEYFILE_H
#define PVS_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Puts pvstream's configuration directory in buf and creates it (and any
 * missing parents) where it does not exist, private to the user:
 *   POSIX:   $PVS_CONFIG_DIR, else $XDG_CONFIG_HOME/pvstream (when absolute),
 *            else $HOME/.config/pvstream; made mode 0700.
 *   Windows: %PVS_CONFIG_DIR%, else %APPDATA%\pvstream, or
 *            %ProgramData%\pvstream when running as LocalSystem (a service);
 *            made with a protected DACL granting only the user (for
 *            LocalSystem: SYSTEM and Administrators), inherited by files.
 * No trailing separator. Returns 0, PVS_ERANGE when it does not fit,
 * PVS_ECONFIG when there is no directory to use, or another negative code;
 * every failure is logged. buf must not be NULL and len not 0. */
int pvs_keyfile_dir(char *buf, size_t len);

/* Windows: from now on, work in the store of the pvstream service (run as
 * LocalSystem) instead of the user's: %ProgramData%\pvstream, files owned
 * by Administrators and readable by SYSTEM and Administrators only, and
 * files owned by SYSTEM or Administrators trusted. For `pvstream-server
 * pair`, `clients` and `unpair` while the service is installed. Needs an
 * elevated administrator: returns PVS_ECONFIG (logged, with what to do)
 * otherwise. PVS_ENOTSUP on POSIX, where there is no such service. */
int pvs_keyfile_use_service_store(void);

/* Opens and reads `path` whole if it is a regular file (not a link or other
 * reparse point) owned by the user running pvstream that nobody else may
 * read or change:
 *   POSIX:   owner is the effective uid, no group or other mode bits.
 *   Windows: owner is the user (for LocalSystem: SYSTEM or Administrators);
 *            no ACE lets any SID but the owner, SYSTEM and Administrators
 *            read the data or change the file; a NULL DACL is refused.
 * `what` names the file in messages ("identity key file"); `secret` adds
 * the advice to replace a key others may have read. At most `max` bytes.
 * Returns 0 with a NUL-terminated *out of *out_len bytes (release it with
 * pvs_keyfile_free), PVS_ENOENT (not logged) when it does not exist,
 * PVS_ECONFIG (logged, with the fix) when it is refused, or another
 * negative code (logged). */
int pvs_keyfile_read(const char *path, const char *what, bool secret, size_t max,
                     char **out, size_t *out_len);

/* Wipes and frees text from pvs_keyfile_read (len: its *out_len). Accepts
 * NULL. */
void pvs_keyfile_free(char *text, size_t len);

/* Writes `data` to `path` through a temporary file in the same directory,
 * created private (POSIX 0600; Windows: owned by the user, protected DACL
 * granting only the user, or SYSTEM and Administrators for LocalSystem) and
 * flushed to disk before it takes the name, so a crash leaves the old file
 * or the new one. `exclusive`: only if `path` does not exist yet; returns
 * -EEXIST, not logged, when it does. Otherwise replaces it. Returns 0 or a
 * negative code (logged). */
int pvs_keyfile_write(const char *path, const char *what, const char *data, size_t len,
                      bool exclusive);

#endif
