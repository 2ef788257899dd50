/* Reading sysfs safely, for the Linux backends (mdev.c, sriov.c), and the
 * PCI names from pci.ids.
 *
 * Every read is bounded: a value is one small file, and one larger than
 * its buffer, holding a NUL byte, or not of the expected form is reported
 * (PVS_EBADDATA) so the caller can skip that entry; nothing read from the
 * tree can overflow a buffer or crash the reader. */
#ifndef PVS_HOST_SYSFS_H
#define PVS_HOST_SYSFS_H

#include <stdbool.h>
#include <stddef.h>

#define PVS_SYSFS_PATH_MAX 1024

#include "common/log.h"
#define PVS_SYSFS_PRINTF(f, a) PVS_PRINTF(f, a)

/* Writes ROOT/REL into buf: root "/" (or "") gives "/REL", "/tmp/t/" gives
 * "/tmp/t/REL". Returns 0, or PVS_ERANGE when it does not fit. */
int pvs_sysfs_path(char *buf, size_t len, const char *root, const char *fmt, ...)
    PVS_SYSFS_PRINTF(4, 5);

/* Reads a whole file of at most len - 1 bytes into buf, NUL-terminated,
 * trailing whitespace removed. Returns 0; PVS_ENOENT (no such file),
 * PVS_EBADDATA (too long, or a NUL byte in it), PVS_EIO. */
int pvs_sysfs_read(const char *path, char *buf, size_t len);

/* pvs_sysfs_read for display text: interior newlines become "; " (as far
 * as there is room), other control characters '?'. */
int pvs_sysfs_read_text(const char *path, char *buf, size_t len);

/* A decimal integer 0..max ("16\n"). Returns 0, PVS_ENOENT, PVS_EBADDATA. */
int pvs_sysfs_read_uint(const char *path, unsigned max, unsigned *out);

/* A hexadecimal integer with its 0x prefix, 0..max ("0x10de\n"). */
int pvs_sysfs_read_hex(const char *path, unsigned max, unsigned *out);

/* A PCI address as sysfs names it: "DDDD:BB:SS.F", lower-case hex. Also
 * what makes a directory entry safe to put in a path. */
bool pvs_sysfs_is_pci_bdf(const char *s);

/* Whether path is a directory (following links): for --sysfs-root and the
 * checks' "is this sysfs directory there". */
bool pvs_sysfs_is_dir(const char *path);

/* The vendor's and device's names from ROOT/usr/share/misc/pci.ids or
 * ROOT/usr/share/hwdata/pci.ids, written as "Vendor Device" ("Vendor" alone
 * when the device is not listed). Returns 0, or PVS_ENOENT (no file, or the
 * vendor is not listed; name is then ""). */
int pvs_pci_ids_name(const char *root, unsigned vendor, unsigned device,
                     char *name, size_t len);

/* Writes `value` to an existing attribute in one write(), as the kernel
 * wants it. The file is opened without O_CREAT (a missing attribute is an
 * error, never a new file) and with O_APPEND (so a test tree's regular file
 * records every value written). Returns 0, PVS_ENOENT (no such attribute),
 * or the kernel's refusal as a negated errno (-EBUSY, -EINVAL...);
 * PVS_ENOTSUP on Windows. */
int pvs_sysfs_write(const char *path, const char *value);

/* The last component of the symbolic link at path (sysfs links a VF as
 * virtfn0 -> ../0000:03:00.1), NUL-terminated in buf. Returns 0,
 * PVS_ENOENT (no such link), PVS_EBADDATA (not a link, or too long);
 * PVS_ENOTSUP on Windows. */
int pvs_sysfs_link_name(const char *path, char *buf, size_t len);

#endif
