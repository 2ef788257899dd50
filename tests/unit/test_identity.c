/* Identity keys and paired peers (net/identity.h), all under a temporary
 * directory named by PVS_CONFIG_DIR: the directory is found and created
 * 0700; a key file is created 0600 and loads back as the same pair; files
 * open to others, owned by another user, not regular, or malformed are
 * refused and the log says how to fix it (or which line is wrong); peers
 * add, replace (by name and by key), remove and find round trip; the
 * fingerprint has its documented form and value. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "net/identity.h"
#include "tests/unit/test.h"

static char g_dir[512];
static char g_last[1024];  /* the last error logged */
static int g_errors;

static void sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                 const char *msg)
{
    if (level == PVS_LOG_ERROR) {
        g_errors++;
        snprintf(g_last, sizeof(g_last), "%s", msg);
    }
}

static void log_reset(void)
{
    g_last[0] = '\0';
    g_errors = 0;
}

static bool said(const char *what)
{
    bool yes = strstr(g_last, what) != NULL;
    if (!yes)
        fprintf(stderr, "  log was \"%s\", wanted \"%s\" in it\n", g_last, what);
    return yes;
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", g_dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    CHECK_INT(chmod(path, mode), ==, 0);
}

static void test_dir(void)
{
    char buf[600], want[600];
    snprintf(want, sizeof(want), "%s/a/b", g_dir);
    setenv("PVS_CONFIG_DIR", want, 1);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    CHECK(strcmp(buf, want) == 0);
    struct stat st;
    CHECK_INT(stat(want, &st), ==, 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 0777, ==, 0700);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);  /* exists: fine */
    char tiny[4];
    log_reset();
    CHECK_INT(pvs_identity_dir(tiny, sizeof(tiny)), ==, PVS_ERANGE);
    CHECK_INT(g_errors, ==, 1);

    /* Without PVS_CONFIG_DIR: XDG_CONFIG_HOME, then HOME. */
    unsetenv("PVS_CONFIG_DIR");
    char *old_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("XDG_CONFIG_HOME", g_dir, 1);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    snprintf(want, sizeof(want), "%s/pvstream", g_dir);
    CHECK(strcmp(buf, want) == 0);
    setenv("XDG_CONFIG_HOME", "relative/ignored", 1);
    setenv("HOME", g_dir, 1);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    snprintf(want, sizeof(want), "%s/.config/pvstream", g_dir);
    CHECK(strcmp(buf, want) == 0);
    CHECK_INT(stat(want, &st), ==, 0);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    log_reset();
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, PVS_ECONFIG);
    CHECK(said("PVS_CONFIG_DIR"));
    if (old_xdg)
        setenv("XDG_CONFIG_HOME", old_xdg, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_xdg);
    free(old_home);

    /* A file where the directory should be. */
    snprintf(want, sizeof(want), "%s/plainfile", g_dir);
    write_file(want, "x", 0600);
    setenv("PVS_CONFIG_DIR", want, 1);
    log_reset();
    CHECK(pvs_identity_dir(buf, sizeof(buf)) < 0);
    CHECK_INT(g_errors, >=, 1);
    unlink(want);
    setenv("PVS_CONFIG_DIR", g_dir, 1);
}

static void test_create_and_load(void)
{
    char dir[600], path[700];
    CHECK_INT(pvs_identity_dir(dir, sizeof(dir)), ==, 0);
    CHECK(strcmp(dir, g_dir) == 0);
    snprintf(path, sizeof(path), "%s/%s", dir, PVS_IDENTITY_FILE);

    struct pvs_identity a, b;
    CHECK_INT(pvs_identity_load_or_create(path, &a), ==, 0);
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_INT(st.st_mode & 0777, ==, 0600);
    /* The pair is a real X25519 pair. */
    uint8_t pub[32];
    CHECK_INT(crypto_scalarmult_base(pub, a.secret_key), ==, 0);
    CHECK(memcmp(pub, a.public_key, 32) == 0);

    CHECK_INT(pvs_identity_load_or_create(path, &b), ==, 0);
    CHECK(memcmp(a.public_key, b.public_key, 32) == 0);
    CHECK(memcmp(a.secret_key, b.secret_key, 32) == 0);

    /* No temporary files are left beside it. */
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -q tmp-", dir);
    CHECK(system(cmd) != 0);

    /* Another file makes another key. */
    struct pvs_identity c;
    path_of(path, sizeof(path), "other.key");
    CHECK_INT(pvs_identity_load_or_create(path, &c), ==, 0);
    CHECK(memcmp(a.public_key, c.public_key, 32) != 0);

    pvs_identity_wipe(&b);
    static const struct pvs_identity zero;
    CHECK(memcmp(&b, &zero, sizeof(b)) == 0);
    pvs_identity_wipe(NULL);
    pvs_identity_wipe(&a);
    pvs_identity_wipe(&c);
    unlink(path);
}

static void test_refused(void)
{
    char path[700];
    struct pvs_identity id;
    path_of(path, sizeof(path), "key");
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    pvs_identity_wipe(&id);

    /* Readable by others: refused, and the message gives the command. */
    CHECK_INT(chmod(path, 0644), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    char fix[800];
    snprintf(fix, sizeof(fix), "chmod 600 %s", path);
    CHECK(said(fix));
    static const struct pvs_identity zero;
    CHECK(memcmp(&id, &zero, sizeof(id)) == 0);
    CHECK_INT(chmod(path, 0620), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK(said(fix));
    CHECK_INT(chmod(path, 0600), ==, 0);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);

    /* Owned by someone else: only root can arrange that. */
    if (geteuid() == 0) {
        CHECK_INT(chown(path, 65534, 65534), ==, 0);
        log_reset();
        CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
        CHECK(said("it belongs to another user"));
        CHECK_INT(chown(path, 0, 0), ==, 0);
    }

    /* Not a regular file, or a symbolic link to a good one. */
    char other[700];
    path_of(other, sizeof(other), "dirkey");
    CHECK_INT(mkdir(other, 0700), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(other, &id), ==, PVS_ECONFIG);
    CHECK(said("not a regular file"));
    rmdir(other);
    path_of(other, sizeof(other), "linkkey");
    CHECK_INT(symlink(path, other), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(other, &id), ==, PVS_ECONFIG);
    CHECK(said("symbolic link"));
    unlink(other);
    unlink(path);
}

static void test_malformed_key(void)
{
    char path[700];
    path_of(path, sizeof(path), "bad.key");
    struct pvs_identity good, id;
    char pub[65], sec[65], text[512];
    crypto_kx_keypair(good.public_key, good.secret_key);
    sodium_bin2hex(pub, sizeof(pub), good.public_key, 32);
    sodium_bin2hex(sec, sizeof(sec), good.secret_key, 32);

    /* Comments, blank lines, CRLF, any order, upper case: fine. */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(pub[i] >= 'a' && pub[i] <= 'f' ? pub[i] - 32 : pub[i]);
    snprintf(text, sizeof(text), "# mine\r\n\r\nsecret %s\r\n  public\t%s\n", sec, upper);
    write_file(path, text, 0600);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    CHECK(memcmp(id.public_key, good.public_key, 32) == 0);
    CHECK(memcmp(id.secret_key, good.secret_key, 32) == 0);

    /* Each malformed file is refused, naming the line (or what is missing). */
#define BAD_KEY(fmt, what)                                                    \
    do {                                                                      \
        snprintf(text, sizeof(text), fmt, pub, sec);                          \
        write_file(path, text, 0600);                                         \
        log_reset();                                                          \
        CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);   \
        CHECK(said(what));                                                    \
    } while (0)
    BAD_KEY("public %s\nsecret %s\ngarbage\n", "line 3");
    BAD_KEY("public %s\nsecret %.63s\n", "line 2");
    BAD_KEY("public %s\nsecret %sff\n", "line 2");
    BAD_KEY("public %s extra\nsecret %s\n", "line 1");
    BAD_KEY("pub %s\nsecret %s\n", "line 1");
    BAD_KEY("public %s\n%s\n", "line 2");
    BAD_KEY("public %s\npublic %s\n", "line 2");
    BAD_KEY("public %s\n# secret %s\n", "no \"secret\" line");
    BAD_KEY("# %s %s\n", "no \"public\" line");
#undef BAD_KEY
    /* A non-hex digit, and a public key that is not the secret's. */
    snprintf(text, sizeof(text), "public %s\nsecret %s\n", pub, sec);
    text[7] = 'g';
    write_file(path, text, 0600);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK(said("line 1"));
    snprintf(text, sizeof(text), "public %s\nsecret %s\n", pub, sec);
    text[7] = text[7] == '0' ? '1' : '0';
    write_file(path, text, 0600);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK(said("not the one its secret key gives"));
    /* Far too large. */
    char *big = malloc(10000);
    memset(big, '#', 9999);
    big[9999] = '\0';
    write_file(path, big, 0600);
    free(big);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK_INT(g_errors, ==, 1);
    unlink(path);
    pvs_identity_wipe(&good);
}

static struct pvs_peer make_peer(const char *name, uint8_t fill, int64_t t)
{
    struct pvs_peer p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    memset(p.public_key, fill, sizeof(p.public_key));
    p.paired_at = t;
    return p;
}

static void test_peers(void)
{
    char path[700];
    path_of(path, sizeof(path), PVS_PEERS_FILE);
    struct pvs_peer *list = (struct pvs_peer *)1;
    int n = -1;

    /* Missing: an empty list. */
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK(list == NULL);
    CHECK_INT(n, ==, 0);
    CHECK_INT(pvs_peers_remove(path, "nobody"), ==, PVS_ENOENT);

    struct pvs_peer a = make_peer("laptop", 0xa1, 1700000000);
    struct pvs_peer b = make_peer("desk-pc.home", 0xb2, 1700000001);
    struct pvs_peer c = make_peer("~odd!name", 0xc3, 0);
    CHECK_INT(pvs_peers_add(path, &a), ==, 0);
    CHECK_INT(pvs_peers_add(path, &b), ==, 0);
    CHECK_INT(pvs_peers_add(path, &c), ==, 0);
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);

    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 3);
    const struct pvs_peer *f = pvs_peers_find_key(list, n, b.public_key);
    CHECK(f != NULL);
    if (f) {
        CHECK(strcmp(f->name, "desk-pc.home") == 0);
        CHECK_INT(f->paired_at, ==, 1700000001);
    }
    f = pvs_peers_find_key(list, n, c.public_key);
    CHECK(f && strcmp(f->name, "~odd!name") == 0 && f->paired_at == 0);
    uint8_t unknown[32];
    memset(unknown, 0xa1, sizeof(unknown));
    unknown[31] = 0;
    CHECK(pvs_peers_find_key(list, n, unknown) == NULL);
    CHECK(pvs_peers_find_key(NULL, 0, unknown) == NULL);
    pvs_peers_free(&list);
    CHECK(list == NULL);
    pvs_peers_free(&list);
    pvs_peers_free(NULL);

    /* Same name, new key: replaced. Same key, new name: replaced. */
    struct pvs_peer a2 = make_peer("laptop", 0xd4, 1800000000);
    struct pvs_peer b2 = make_peer("study", 0xb2, 1800000001);
    CHECK_INT(pvs_peers_add(path, &a2), ==, 0);
    CHECK_INT(pvs_peers_add(path, &b2), ==, 0);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 3);
    CHECK(pvs_peers_find_key(list, n, a.public_key) == NULL);
    f = pvs_peers_find_key(list, n, a2.public_key);
    CHECK(f && strcmp(f->name, "laptop") == 0 && f->paired_at == 1800000000);
    f = pvs_peers_find_key(list, n, b.public_key);
    CHECK(f && strcmp(f->name, "study") == 0);
    for (int i = 0; i < n; i++)
        CHECK(strcmp(list[i].name, "desk-pc.home") != 0);
    pvs_peers_free(&list);

    /* Remove. */
    CHECK_INT(pvs_peers_remove(path, "study"), ==, 0);
    CHECK_INT(pvs_peers_remove(path, "study"), ==, PVS_ENOENT);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 2);
    CHECK(pvs_peers_find_key(list, n, b.public_key) == NULL);
    CHECK(pvs_peers_find_key(list, n, c.public_key) != NULL);
    pvs_peers_free(&list);
    CHECK_INT(pvs_peers_remove(path, "laptop"), ==, 0);
    CHECK_INT(pvs_peers_remove(path, "~odd!name"), ==, 0);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 0);
    pvs_peers_free(&list);

    /* Bad names and times are refused before anything is written. */
    const char *bad_names[] = { "", "has space", "#hash", "tab\there", "\x7f",
        "caf\xc3\xa9", "1234567890123456789012345678901234567890123456789012345678901234" };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        struct pvs_peer p = make_peer("x", 1, 1);
        memset(p.name, 0, sizeof(p.name));
        memcpy(p.name, bad_names[i], strlen(bad_names[i]) < 63 ? strlen(bad_names[i]) : 63);
        if (strlen(bad_names[i]) >= 64)
            memset(p.name, 'n', sizeof(p.name));  /* no NUL at all */
        log_reset();
        CHECK_INT(pvs_peers_add(path, &p), ==, PVS_EINVAL);
    }
    struct pvs_peer neg = make_peer("neg", 5, -1);
    CHECK_INT(pvs_peers_add(path, &neg), ==, PVS_EINVAL);
    struct pvs_peer longest = make_peer(
        "123456789012345678901234567890123456789012345678901234567890123", 6, INT64_MAX);
    CHECK_INT(pvs_peers_add(path, &longest), ==, 0);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK(n == 1 && strlen(list[0].name) == 63 && list[0].paired_at == INT64_MAX);
    pvs_peers_free(&list);

    /* The file decides who may connect: the same rules as the key file. */
    CHECK_INT(chmod(path, 0604), ==, 0);
    log_reset();
    list = (struct pvs_peer *)1;
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, PVS_ECONFIG);
    CHECK(list == NULL && n == 0);
    char fix[800];
    snprintf(fix, sizeof(fix), "chmod 600 %s", path);
    CHECK(said(fix));
    CHECK_INT(pvs_peers_add(path, &a), ==, PVS_ECONFIG);
    CHECK_INT(chmod(path, 0600), ==, 0);
    unlink(path);
}

static void test_peers_malformed(void)
{
    char path[700];
    path_of(path, sizeof(path), "peers.bad");
    const char *k1 = "0101010101010101010101010101010101010101010101010101010101010101";
    const char *k2 = "0202020202020202020202020202020202020202020202020202020202020202";
    char text[1024];

    /* Comments, blank lines, tabs and CRLF are fine. */
    snprintf(text, sizeof(text), "# hand-edited\n\nalpha %s 5\r\n\tbeta\t%s  7\n", k1, k2);
    write_file(path, text, 0600);
    struct pvs_peer *list;
    int n;
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 2);
    if (n == 2) {
        CHECK(strcmp(list[1].name, "beta") == 0 && list[1].paired_at == 7);
        CHECK(list[1].public_key[0] == 2 && list[1].public_key[31] == 2);
    }
    pvs_peers_free(&list);

#define BAD_PEERS(fmt, what)                                                  \
    do {                                                                      \
        snprintf(text, sizeof(text), fmt, k1, k2);                            \
        write_file(path, text, 0600);                                         \
        log_reset();                                                          \
        list = (struct pvs_peer *)1;                                          \
        CHECK_INT(pvs_peers_load(path, &list, &n), ==, PVS_ECONFIG);          \
        CHECK(list == NULL && n == 0);                                        \
        CHECK(said(what));                                                    \
    } while (0)
    BAD_PEERS("alpha %s 5\nbeta %s\n", "line 2");
    BAD_PEERS("alpha %s 5\nbeta %s 7 extra\n", "line 2");
    BAD_PEERS("alpha %.62s 5\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s -5\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s 5x\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s 99999999999999999999\nbeta %s 7\n", "line 1");
    BAD_PEERS("\n\nalpha %s 5\nalpha %s 7\n", "line 4");
    BAD_PEERS("alpha %s 5\nbeta %s 7\ngamma 0202020202020202020202020202020202020202"
              "020202020202020202020202 1\n", "line 3");
    BAD_PEERS("al\x01pha %s 5\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s 5\nbeta %s 7\nhttps://x\n", "line 3");
#undef BAD_PEERS
    unlink(path);
}

static void test_fingerprint(void)
{
    uint8_t k1[32], k2[32];
    memset(k1, 0, sizeof(k1));
    memcpy(k2, k1, sizeof(k2));
    k2[31] = 1;
    char f1[PVS_FINGERPRINT_CHARS], f1b[PVS_FINGERPRINT_CHARS], f2[PVS_FINGERPRINT_CHARS];
    pvs_fingerprint(k1, f1);
    pvs_fingerprint(k1, f1b);
    pvs_fingerprint(k2, f2);
    CHECK(strcmp(f1, f1b) == 0);
    CHECK(strcmp(f1, f2) != 0);
    CHECK_INT(strlen(f1), ==, PVS_FINGERPRINT_CHARS - 1);
    for (int i = 0; i < PVS_FINGERPRINT_CHARS - 1; i++) {
        if (i % 5 == 4)
            CHECK(f1[i] == ':');
        else
            CHECK((f1[i] >= '0' && f1[i] <= '9') || (f1[i] >= 'a' && f1[i] <= 'f'));
    }
    /* Exactly the documented derivation, recomputed. */
    uint8_t msg[18 + 32], h[32];
    memcpy(msg, "PVS-fingerprint-v1", 18);
    memcpy(msg + 18, k2, 32);
    crypto_generichash(h, sizeof(h), msg, sizeof(msg), NULL, 0);
    char want[PVS_FINGERPRINT_CHARS], *o = want;
    for (int i = 0; i < 20; i++)
        o += sprintf(o, "%s%02x", i && i % 2 == 0 ? ":" : "", h[i]);
    CHECK(strcmp(f2, want) == 0);
}

static int rm_rf_dir(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void)
{
    if (sodium_init() < 0)
        TEST_SKIP("libsodium cannot initialize");
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof(g_dir), "%s/pvs-identity-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("PVS_CONFIG_DIR", g_dir, 1);
    pvs_log_set_sink(sink, NULL);
    RUN(test_dir);
    RUN(test_create_and_load);
    RUN(test_refused);
    RUN(test_malformed_key);
    RUN(test_peers);
    RUN(test_peers_malformed);
    RUN(test_fingerprint);
    pvs_log_set_sink(NULL, NULL);
    rm_rf_dir(g_dir);
    TEST_EXIT();
}
