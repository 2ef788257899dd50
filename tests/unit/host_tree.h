/* A fake file-system tree for pvstream-host's tests (apply, check): made
 * under a fresh temporary directory, filled with small files, directories
 * and links, read back, and removed. Regular files stand in for sysfs
 * attributes, so a file written with O_APPEND keeps every value written. */
#ifndef PVS_TEST_HOST_TREE_H
#define PVS_TEST_HOST_TREE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tree_root[256];

static inline int tree_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes the previous tree, if any, and makes an empty one. Returns 0. */
static inline int tree_new(void)
{
    if (tree_root[0])
        nftw(tree_root, tree_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(tree_root, sizeof(tree_root), "/tmp/pvs-host-tree-XXXXXX");
    return mkdtemp(tree_root) ? 0 : -1;
}

static inline void tree_free(void)
{
    if (tree_root[0])
        nftw(tree_root, tree_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tree_root[0] = '\0';
}

static inline void tree_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", tree_root, rel);
}

/* mkdir -p ROOT/REL */
static inline void tree_dir(const char *rel)
{
    char tmp[1024];
    tree_path(tmp, sizeof(tmp), rel);
    for (char *p = tmp + strlen(tree_root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

/* Writes ROOT/REL (making its directory). Returns 0 or -1. */
static inline int tree_put(const char *rel, const char *data)
{
    char path[1024], dir[1024];
    snprintf(dir, sizeof(dir), "%s", rel);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        tree_dir(dir);
    }
    tree_path(path, sizeof(path), rel);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(data, f);
    return fclose(f);
}

/* ROOT/REL -> target (a symbolic link). */
static inline int tree_link(const char *rel, const char *target)
{
    char path[1024];
    tree_path(path, sizeof(path), rel);
    return symlink(target, path);
}

/* ROOT/REL's content in a static buffer; "<missing>" when it cannot be read. */
static inline const char *tree_get(const char *rel)
{
    static char buf[4096];
    char path[1024];
    tree_path(path, sizeof(path), rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return "<missing>";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline int tree_exists(const char *rel)
{
    char path[1024];
    struct stat st;
    tree_path(path, sizeof(path), rel);
    return lstat(path, &st) == 0;
}

#endif
