/* Discovery (docs/gamestream.md, "Discovery"): the host announces itself
 * over mDNS as an `_nvstream._tcp` service on its GameStream HTTP port,
 * which is what Moonlight browses for (fact from moonlight-embedded
 * libgamestream/discover.c: it browses "_nvstream._tcp" and takes the
 * resolved address and port). gs_mdns_avahi.c announces through
 * avahi-daemon (libavahi-client) on Linux, gs_mdns_win32.c through
 * Windows' DnsServiceRegister.
 *
 * Discovery is a convenience: without it Moonlight still connects to the
 * host's address typed in by hand. So nothing here fails the server: with
 * no daemon (or a Windows without the API) it warns once and goes on, and
 * on Linux it announces as soon as avahi-daemon starts. */
#ifndef PVS_GS_MDNS_H
#define PVS_GS_MDNS_H

#include <stddef.h>
#include <stdint.h>

#define PVS_GS_MDNS_TYPE "_nvstream._tcp"

enum pvs_gs_mdns_state {
    PVS_GS_MDNS_WAITING,   /* no daemon (yet), or registering */
    PVS_GS_MDNS_ANNOUNCED, /* the service is published */
    PVS_GS_MDNS_FAILED,    /* the daemon refused it (logged) */
};

struct pvs_gs_mdns;

/* Announces the service `name` (the host name shown in Moonlight's list;
 * NULL or "": this machine's host name) on `port`. On a name clash with
 * another host, the daemon's alternative ("name #2") is taken. Returns 0
 * (also when there is no daemon: see above), PVS_EINVAL or PVS_ENOMEM. */
int pvs_gs_mdns_open(struct pvs_gs_mdns **out, const char *name, uint16_t port);

/* Withdraws the announcement, frees and clears *m. Accepts NULL. */
void pvs_gs_mdns_close(struct pvs_gs_mdns **m);

/* Where the announcement stands, and the name announced (after a clash,
 * not the one asked for) into name when not NULL. */
enum pvs_gs_mdns_state pvs_gs_mdns_get_state(const struct pvs_gs_mdns *m, char *name,
                                             size_t name_len);

#endif
