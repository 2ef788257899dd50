/* libvirt <hostdev> XML for Linux KVM hosts: a mediated device (by UUID)
 * or an SR-IOV virtual function (by PCI address), to add to a domain with
 * `virsh attach-device DOMAIN FILE --config` or paste into `virsh edit`.
 *
 * Any text that goes into the XML is escaped (& < > ' "); control
 * characters, which XML 1.0 cannot carry, are refused. */
#ifndef PVS_HOST_XML_H
#define PVS_HOST_XML_H

#include <stdint.h>

#include "host/text.h"

struct pvs_pci_addr {
    uint16_t domain;
    uint8_t bus;
    uint8_t slot;      /* 0..0x1f */
    uint8_t function;  /* 0..7 */
};

/* Parses "DDDD:BB:SS.F" (domain optional: "BB:SS.F"), hexadecimal, as in
 * /sys/bus/pci/devices. Returns 0 or PVS_EINVAL. */
int pvs_pci_addr_parse(const char *text, struct pvs_pci_addr *out);

/* Appends `s` escaped for XML text or a quoted attribute. Returns 0, or
 * PVS_EINVAL (nothing appended) for a control character other than tab. */
int pvs_xml_escape(struct pvs_text *out, const char *s);

/* The <hostdev> element for a mediated device with this UUID, ending in a
 * newline. *xml is the caller's to free. Returns 0, PVS_EINVAL or
 * PVS_ENOMEM. */
int pvs_xml_hostdev_mdev(const char *uuid, char **xml);

/* The <hostdev> element for a PCI function (an SR-IOV VF), managed='yes'
 * so libvirt binds it to vfio-pci. Returns 0, PVS_EINVAL (slot > 0x1f or
 * function > 7) or PVS_ENOMEM. */
int pvs_xml_hostdev_pci(const struct pvs_pci_addr *addr, char **xml);

#endif
