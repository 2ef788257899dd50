/* libvirt <hostdev> XML generation (see xml.h). */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "host/xml.h"

static int hex_field(const char **p, unsigned max_digits, unsigned long *out)
{
    unsigned long v = 0;
    unsigned n = 0;
    for (; n < max_digits; n++) {
        char c = (*p)[n];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + (unsigned long)d;
    }
    if (n == 0)
        return PVS_EINVAL;
    *p += n;
    *out = v;
    return 0;
}

int pvs_pci_addr_parse(const char *text, struct pvs_pci_addr *out)
{
    if (!text)
        return PVS_EINVAL;
    unsigned long f[4];
    int colons = 0;
    for (const char *c = text; *c; c++)
        colons += *c == ':';
    const char *p = text;
    unsigned long domain = 0;
    if (colons == 2) {
        if (hex_field(&p, 4, &domain) < 0 || *p++ != ':')
            return PVS_EINVAL;
    } else if (colons != 1) {
        return PVS_EINVAL;
    }
    if (hex_field(&p, 2, &f[0]) < 0 || *p++ != ':' ||
        hex_field(&p, 2, &f[1]) < 0 || *p++ != '.' ||
        hex_field(&p, 1, &f[2]) < 0 || *p != '\0')
        return PVS_EINVAL;
    if (f[1] > 0x1f || f[2] > 7)
        return PVS_EINVAL;
    out->domain = (uint16_t)domain;
    out->bus = (uint8_t)f[0];
    out->slot = (uint8_t)f[1];
    out->function = (uint8_t)f[2];
    return 0;
}

int pvs_xml_escape(struct pvs_text *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return PVS_EINVAL;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': pvs_text_puts(out, "&amp;"); break;
        case '<': pvs_text_puts(out, "&lt;"); break;
        case '>': pvs_text_puts(out, "&gt;"); break;
        case '\'': pvs_text_puts(out, "&apos;"); break;
        case '"': pvs_text_puts(out, "&quot;"); break;
        default: pvs_text_append(out, p, 1); break;
        }
    }
    return 0;
}

int pvs_xml_hostdev_mdev(const char *uuid, char **xml)
{
    *xml = NULL;
    if (!uuid || !*uuid)
        return PVS_EINVAL;
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "<hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n"
                      "  <source>\n"
                      "    <address uuid='");
    if (pvs_xml_escape(&t, uuid) < 0) {
        pvs_text_free(&t);
        return PVS_EINVAL;
    }
    pvs_text_puts(&t, "'/>\n"
                      "  </source>\n"
                      "</hostdev>\n");
    return pvs_text_take(&t, xml);
}

int pvs_xml_hostdev_pci(const struct pvs_pci_addr *a, char **xml)
{
    *xml = NULL;
    if (!a || a->slot > 0x1f || a->function > 7)
        return PVS_EINVAL;
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_printf(&t,
        "<hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "  <source>\n"
        "    <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
        "  </source>\n"
        "</hostdev>\n",
        (unsigned)a->domain, (unsigned)a->bus, (unsigned)a->slot, (unsigned)a->function);
    return pvs_text_take(&t, xml);
}
