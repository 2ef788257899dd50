/* The GameStream host's HTTP side, the parts a real client does not reach
 * in tests/integration/test_gamestream.sh: which addresses count as the
 * local network, and the apps option. */
#include <string.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "gamestream/gs_server.h"
#include "tests/unit/test.h"

static bool lan(const char *host)
{
    struct pvs_addr a;
    if (pvs_addr_resolve(&a, host, 47989) != 0) {
        CHECK(!"resolve");
        return false;
    }
    return pvs_gs_addr_is_lan(&a);
}

static void test_lan(void)
{
    const char *in[] = { "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.254",
                         "192.168.1.20", "169.254.3.4", "::1", "fe80::1", "fd12:3456::1",
                         "fc00::5", "::ffff:192.168.0.7" };
    const char *out[] = { "8.8.8.8", "172.15.255.255", "172.32.0.1", "192.169.0.1", "100.64.0.1",
                          "11.0.0.1", "2001:db8::1", "fec0::1", "::ffff:8.8.4.4", "0.0.0.0" };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        if (!lan(in[i]))
            fprintf(stderr, "%s should be local\n", in[i]);
        CHECK(lan(in[i]));
    }
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        if (lan(out[i]))
            fprintf(stderr, "%s should not be local\n", out[i]);
        CHECK(!lan(out[i]));
    }
    struct pvs_addr none = { .len = 0 };
    CHECK(!pvs_gs_addr_is_lan(&none));
    CHECK(!pvs_gs_addr_is_lan(NULL));
}

static void test_apps(void)
{
    char names[4][PVS_GS_APP_NAME_MAX + 1], why[128] = "";
    CHECK_INT(pvs_gs_apps_parse(NULL, names, 4, why, sizeof(why)), ==, 0);
    CHECK_INT(pvs_gs_apps_parse(" , ,", names, 4, why, sizeof(why)), ==, 0);
    CHECK_INT(pvs_gs_apps_parse("Steam, Notepad ,Big <&> \"Game\"", names, 4, why, sizeof(why)), ==, 3);
    CHECK(!strcmp(names[0], "Steam"));
    CHECK(!strcmp(names[1], "Notepad"));
    CHECK(!strcmp(names[2], "Big <&> \"Game\""));
    CHECK_INT(pvs_gs_apps_parse("a,b,c,d,e", names, 4, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "more than 4") != NULL);
    char longname[100];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    CHECK_INT(pvs_gs_apps_parse(longname, names, 4, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "longer") != NULL);
    longname[63] = '\0';
    CHECK_INT(pvs_gs_apps_parse(longname, names, 4, why, sizeof(why)), ==, 1);
    CHECK_INT(pvs_gs_apps_parse("ok,bad\tname", names, 4, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "control") != NULL);
}

int main(void)
{
    pvs_net_init();
    RUN(test_lan);
    RUN(test_apps);
    pvs_net_deinit();
    TEST_EXIT();
}
