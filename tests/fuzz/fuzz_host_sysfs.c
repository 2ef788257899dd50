/* Fuzz target for pvstream-host's readers of what the system (or a fake
 * tree) says: sysfs attribute files and pci.ids. A file that says anything
 * must give a clean value or a clean refusal, never a read past a buffer,
 * and text values must come out printable.
 *
 * Input: byte 0 picks the reader (mod 4: a decimal number, a hex number,
 * display text, pci.ids), bytes 1..4 a vendor and device id (little-endian
 * 16-bit each, for pci.ids), the rest is the file's content. The file is
 * written under a private temporary directory made once per process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "host/sysfs.h"
#include "tests/fuzz/fuzz.h"

static char root[64];

static void remove_tree(void)
{
    static const char *const parts[] = { "/usr/share/misc/pci.ids", "/attr", "/usr/share/misc",
                                         "/usr/share", "/usr", "" };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", root, parts[i]);
        remove(p);
    }
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && n == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        snprintf(root, sizeof(root), "/tmp/pvs-fuzz-sysfs-%d", (int)getpid());
        char dir[128];
        mkdir(root, 0700);
        snprintf(dir, sizeof(dir), "%s/usr", root);
        mkdir(dir, 0700);
        snprintf(dir, sizeof(dir), "%s/usr/share", root);
        mkdir(dir, 0700);
        snprintf(dir, sizeof(dir), "%s/usr/share/misc", root);
        mkdir(dir, 0700);
        atexit(remove_tree);
    }
    if (size < 5)
        return 0;
    unsigned which = data[0] % 4;
    unsigned vendor = data[1] | (unsigned)data[2] << 8, device = data[3] | (unsigned)data[4] << 8;
    char path[160], text[96];
    if (which == 3)
        snprintf(path, sizeof(path), "%s/usr/share/misc/pci.ids", root);
    else
        snprintf(path, sizeof(path), "%s/attr", root);
    if (write_file(path, data + 5, size - 5) != 0)
        return 0;
    unsigned v = 0;
    int rc;
    switch (which) {
    case 0:
        rc = pvs_sysfs_read_uint(path, 1000000, &v);
        if (rc == 0 && v > 1000000)
            abort();
        break;
    case 1:
        rc = pvs_sysfs_read_hex(path, 0xffff, &v);
        if (rc == 0 && v > 0xffff)
            abort();
        break;
    case 2:
        rc = pvs_sysfs_read_text(path, text, sizeof(text));
        if (rc == 0)
            for (const char *p = text; *p; p++)
                if ((unsigned char)*p < 0x20)
                    abort();
        break;
    default:
        rc = pvs_pci_ids_name(root, vendor, device, text, sizeof(text));
        if (strnlen(text, sizeof(text)) == sizeof(text))
            abort();
        break;
    }
    if (rc != 0 && rc != PVS_ENOENT && rc != PVS_EBADDATA && rc != PVS_EIO)
        abort();
    /* Anything as a directory entry: the BDF check reads up to the NUL. */
    char name[32];
    size_t n = size - 5 < sizeof(name) - 1 ? size - 5 : sizeof(name) - 1;
    memcpy(name, data + 5, n);
    name[n] = '\0';
    (void)pvs_sysfs_is_pci_bdf(name);
    return 0;
}
