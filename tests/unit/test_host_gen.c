/* pvstream-host's generators: the Hyper-V PowerShell and the libvirt XML
 * against golden files in tests/data/host, and their quoting.
 *
 * The golden files live in $PVS_TEST_DATA/host (set by tests/meson.build).
 * To regenerate them after an intended change, run this test with
 * PVS_UPDATE_GOLDEN=1, then review the diff. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/plan.h"
#include "host/ps.h"
#include "host/report.h"
#include "host/xml.h"
#include "test.h"
#include "host_test.h"


static const char instance_path[] =
    "\\\\?\\PCI#VEN_10DE&DEV_2704&SUBSYS_00000000&REV_A1#4&2b1b3d5c&0&0008"
    "#{064092b3-625e-43bf-9eb5-dc845897dd59}\\GPUPARAV";

static void test_ps_golden(void)
{
    struct pvs_plan_request req;
    struct pvs_plan plan;
    char err[256];
    pvs_plan_request_hyperv(&req, 3);
    uint32_t w[3] = { 3, 1, 1 };
    req.weights = w;
    CHECK_INT(pvs_plan_compute(&req, &plan, err, sizeof(err)), ==, 0);
    struct pvs_ps_settings s;
    pvs_ps_defaults(&s);
    s.instance_path = instance_path;
    s.generator = "pvstream-host (test)";
    const char *names[3] = { "Gaming VM", "it's \"mine\"; rm -r C:\\", "vm[1]*$env:X`n" };
    char *script = NULL;
    CHECK_INT(pvs_ps_apply_script(&plan, names, &s, &script, err, sizeof(err)), ==, 0);
    CHECK(script != NULL);
    if (!script)
        return;
    /* The hostile name arrives as one literal, its quote doubled. */
    CHECK(strstr(script, "    (Get-PvsVM -Name 'it''s \"mine\"; rm -r C:\\')\n") != NULL);
    CHECK(strstr(script, "    (Get-PvsVM -Name 'vm[1]*$env:X`n')\n)\n") != NULL);
    /* Values past Int64 go through a string cast. */
    CHECK(strstr(script, "-MinPartitionEncode ([uint64]'11068046444225730969')") != NULL);
    CHECK(strstr(script, "-LowMemoryMappedIoSpace 1GB -HighMemoryMappedIoSpace 32GB") != NULL);
    host_golden("apply.ps1", script);
    free(script);

    /* MMIO sizes that are not whole GiB are written in MB. */
    s.low_mmio_mib = 512;
    s.high_mmio_mib = 33280;
    CHECK_INT(pvs_ps_apply_script(&plan, names, &s, &script, err, sizeof(err)), ==, 0);
    CHECK(script && strstr(script, "-LowMemoryMappedIoSpace 512MB -HighMemoryMappedIoSpace 33280MB"));
    free(script);
}

static void test_ps_errors(void)
{
    struct pvs_plan_request req;
    struct pvs_plan plan;
    char err[256];
    pvs_plan_request_hyperv(&req, 2);
    CHECK_INT(pvs_plan_compute(&req, &plan, err, sizeof(err)), ==, 0);
    struct pvs_ps_settings s;
    pvs_ps_defaults(&s);
    s.instance_path = instance_path;
    char *script = (char *)1;
    const char *newline[2] = { "good", "bad\nStop-Computer" };
    CHECK_INT(pvs_ps_apply_script(&plan, newline, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(script == NULL);
    CHECK(strstr(err, "VM 2") && strstr(err, "control character"));
    const char *tab[2] = { "a\tb", "c" };
    CHECK_INT(pvs_ps_apply_script(&plan, tab, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    const char *empty[2] = { "a", "" };
    CHECK_INT(pvs_ps_apply_script(&plan, empty, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    const char *ok[2] = { "a", "b" };
    s.instance_path = "";
    CHECK_INT(pvs_ps_apply_script(&plan, ok, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(strstr(err, "instance path") != NULL);
    s.instance_path = "PCI\r\nx";
    CHECK_INT(pvs_ps_apply_script(&plan, ok, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    s.instance_path = instance_path;
    s.low_mmio_mib = 4096;
    CHECK_INT(pvs_ps_apply_script(&plan, ok, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    s.low_mmio_mib = 1024;
    s.high_mmio_mib = 0;
    CHECK_INT(pvs_ps_apply_script(&plan, ok, &s, &script, err, sizeof(err)), ==, PVS_EINVAL);
    s.high_mmio_mib = 32768;
    CHECK_INT(pvs_ps_apply_script(&plan, ok, &s, &script, err, sizeof(err)), ==, 0);
    free(script);
}

static void test_ps_quote(void)
{
    static const struct { const char *in, *out; } cases[] = {
        { "", "''" },
        { "plain", "'plain'" },
        { "it's", "'it''s'" },
        { "''", "''''''" },
        { "a\"b$c`d", "'a\"b$c`d'" },
        /* U+2019 RIGHT SINGLE QUOTATION MARK ends a string too: doubled. */
        { "it\xe2\x80\x99s", "'it\xe2\x80\x99\xe2\x80\x99s'" },
        { "\xe2\x80\x98x\xe2\x80\x9b", "'\xe2\x80\x98\xe2\x80\x98x\xe2\x80\x9b\xe2\x80\x9b'" },
        /* U+201C (a double quote) is not special in single quotes. */
        { "\xe2\x80\x9c", "'\xe2\x80\x9c'" },
        { "caf\xc3\xa9", "'caf\xc3\xa9'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pvs_text t = PVS_TEXT_INIT;
        CHECK_INT(pvs_ps_quote(&t, cases[i].in), ==, 0);
        char *s = NULL;
        CHECK_INT(pvs_text_take(&t, &s), ==, 0);
        CHECK(s && !strcmp(s, cases[i].out));
        free(s);
    }
    static const char *const refused[] = { "a\nb", "\r", "x\x1b[31m", "del\x7f" };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct pvs_text t = PVS_TEXT_INIT;
        CHECK_INT(pvs_ps_quote(&t, refused[i]), ==, PVS_EINVAL);
        CHECK_INT(t.len, ==, 0);
        pvs_text_free(&t);
    }
}

static void test_xml(void)
{
    char *xml = NULL;
    CHECK_INT(pvs_xml_hostdev_mdev("c2177883-f1bb-47f0-914d-32a22e3a8804", &xml), ==, 0);
    if (xml)
        host_golden("hostdev-mdev.xml", xml);
    free(xml);

    struct pvs_pci_addr a;
    CHECK_INT(pvs_pci_addr_parse("0000:41:00.5", &a), ==, 0);
    CHECK(a.domain == 0 && a.bus == 0x41 && a.slot == 0 && a.function == 5);
    CHECK_INT(pvs_xml_hostdev_pci(&a, &xml), ==, 0);
    if (xml)
        host_golden("hostdev-pci.xml", xml);
    free(xml);

    CHECK_INT(pvs_pci_addr_parse("0a:1f.7", &a), ==, 0);
    CHECK(a.domain == 0 && a.bus == 0x0a && a.slot == 0x1f && a.function == 7);
    CHECK_INT(pvs_pci_addr_parse("10000:00:00.0", &a), ==, PVS_EINVAL);
    CHECK_INT(pvs_pci_addr_parse("0000:00:20.0", &a), ==, PVS_EINVAL);
    CHECK_INT(pvs_pci_addr_parse("0000:00:00.8", &a), ==, PVS_EINVAL);
    CHECK_INT(pvs_pci_addr_parse("0000:00:00", &a), ==, PVS_EINVAL);
    CHECK_INT(pvs_pci_addr_parse("0000:00:00.0x", &a), ==, PVS_EINVAL);
    CHECK_INT(pvs_pci_addr_parse("", &a), ==, PVS_EINVAL);
    a.slot = 0x20;
    CHECK_INT(pvs_xml_hostdev_pci(&a, &xml), ==, PVS_EINVAL);
    CHECK(xml == NULL);

    /* Whatever text reaches the XML is escaped. */
    CHECK_INT(pvs_xml_hostdev_mdev("x' onload='&<>\"", &xml), ==, 0);
    CHECK(xml && strstr(xml, "uuid='x&apos; onload=&apos;&amp;&lt;&gt;&quot;'/>"));
    free(xml);
    CHECK_INT(pvs_xml_hostdev_mdev("a\nb", &xml), ==, PVS_EINVAL);
    CHECK(xml == NULL);
    CHECK_INT(pvs_xml_hostdev_mdev("", &xml), ==, PVS_EINVAL);
}

static void test_report(void)
{
    struct pvs_plan_request req;
    struct pvs_plan plan;
    char err[256];
    pvs_plan_request_hyperv(&req, 2);
    CHECK_INT(pvs_plan_compute(&req, &plan, err, sizeof(err)), ==, 0);
    const char *names[2] = { "a\"\\", NULL };
    char *json = NULL;
    CHECK_INT(pvs_plan_format_json(&plan, "hyperv", names, &json), ==, 0);
    CHECK(json && strstr(json, "{\"name\": \"a\\\"\\\\\", \"weight\": 1,"));
    CHECK(json && strstr(json, "{\"name\": \"vm2\""));
    CHECK(json && strstr(json, "\"encode\": {\"min\": 9223372036854775808, "
                               "\"optimal\": 9223372036854775808, \"max\": 9223372036854775808}"));
    CHECK(json && strstr(json, "\"warnings\": [\n  {\"id\": \"advisory\""));
    free(json);
    char *table = NULL;
    CHECK_INT(pvs_plan_format_table(&plan, "hyperv", NULL, &table), ==, 0);
    CHECK(table && strstr(table, "  vram                500000000            500000000            500000000\n"));
    CHECK(table && strstr(table, "warning: the split is advisory"));
    free(table);
    const char *bad[2] = { "a\nb", "c" };
    CHECK_INT(pvs_plan_format_table(&plan, "hyperv", bad, &table), ==, PVS_EINVAL);
}

int main(void)
{
    RUN(test_ps_golden);
    RUN(test_ps_errors);
    RUN(test_ps_quote);
    RUN(test_xml);
    RUN(test_report);
    TEST_EXIT();
}
