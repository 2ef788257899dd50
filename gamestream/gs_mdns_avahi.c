/* Discovery through avahi-daemon (gs_mdns.h), on Avahi's own threaded poll.
 *
 * The client is made with AVAHI_CLIENT_NO_FAIL: when the daemon is not
 * running the client waits for it instead of failing, and when the daemon
 * restarts the client reconnects and the callbacks publish again, so the
 * server never has to care. Avahi's callbacks run on its poll thread, with
 * the poll's lock held; everything they touch is guarded by that lock
 * (avahi_threaded_poll_lock from other threads). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "gamestream/gs_mdns.h"

struct pvs_gs_mdns {
    AvahiThreadedPoll *poll;
    AvahiClient *client;
    AvahiEntryGroup *group;
    char *name; /* avahi_malloc'ed: changed on a clash */
    uint16_t port;
    enum pvs_gs_mdns_state state;
    bool warned_absent;
};

static void publish(struct pvs_gs_mdns *m, AvahiClient *c);

static void group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *opaque)
{
    struct pvs_gs_mdns *m = opaque;
    m->group = g;
    switch (state) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        m->state = PVS_GS_MDNS_ANNOUNCED;
        PVS_LOG_I("mDNS: announced \"%s\" (%s, port %u) for Moonlight", m->name,
                  PVS_GS_MDNS_TYPE, m->port);
        break;
    case AVAHI_ENTRY_GROUP_COLLISION: {
        /* Another host on the network has this name: take "name #2". */
        char *alt = avahi_alternative_service_name(m->name);
        PVS_LOG_W("mDNS: \"%s\" is taken on this network; announcing as \"%s\"",
                  m->name, alt ? alt : "?");
        if (alt) {
            avahi_free(m->name);
            m->name = alt;
            publish(m, avahi_entry_group_get_client(g));
        }
        break;
    }
    case AVAHI_ENTRY_GROUP_FAILURE:
        m->state = PVS_GS_MDNS_FAILED;
        PVS_LOG_W("mDNS: announcing failed: %s",
                  avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
        break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
        break;
    }
}

static void publish(struct pvs_gs_mdns *m, AvahiClient *c)
{
    if (!m->group) {
        m->group = avahi_entry_group_new(c, group_cb, m);
        if (!m->group) {
            m->state = PVS_GS_MDNS_FAILED;
            PVS_LOG_W("mDNS: cannot create an entry group: %s",
                      avahi_strerror(avahi_client_errno(c)));
            return;
        }
    } else {
        avahi_entry_group_reset(m->group);
    }
    m->state = PVS_GS_MDNS_WAITING;
    int rc = avahi_entry_group_add_service(m->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                           m->name, PVS_GS_MDNS_TYPE, NULL, NULL, m->port,
                                           NULL);
    if (rc == AVAHI_ERR_COLLISION) {
        group_cb(m->group, AVAHI_ENTRY_GROUP_COLLISION, m);
        return;
    }
    if (rc == 0)
        rc = avahi_entry_group_commit(m->group);
    if (rc < 0) {
        m->state = PVS_GS_MDNS_FAILED;
        PVS_LOG_W("mDNS: cannot announce \"%s\": %s", m->name, avahi_strerror(rc));
    }
}

static void warn_absent(struct pvs_gs_mdns *m, const char *why)
{
    if (m->warned_absent)
        return;
    m->warned_absent = true;
    PVS_LOG_W("mDNS: %s: Moonlight will not list this host by itself until "
              "avahi-daemon runs; add the host by its address in Moonlight meanwhile", why);
}

static AvahiClient *new_client(struct pvs_gs_mdns *m);

static void client_cb(AvahiClient *c, AvahiClientState state, void *opaque)
{
    struct pvs_gs_mdns *m = opaque;
    switch (state) {
    case AVAHI_CLIENT_S_RUNNING:
        publish(m, c);
        break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
        /* The daemon renames its host: announce again once it runs. */
        if (m->group)
            avahi_entry_group_reset(m->group);
        m->state = PVS_GS_MDNS_WAITING;
        break;
    case AVAHI_CLIENT_CONNECTING:
        m->state = PVS_GS_MDNS_WAITING;
        warn_absent(m, "avahi-daemon is not running");
        break;
    case AVAHI_CLIENT_FAILURE:
        m->state = PVS_GS_MDNS_WAITING;
        if (avahi_client_errno(c) == AVAHI_ERR_DISCONNECTED) {
            /* The daemon went away: wait for the next one. The group dies
             * with its client. */
            m->group = NULL;
            avahi_client_free(c);
            m->client = new_client(m);
        } else {
            m->state = PVS_GS_MDNS_FAILED;
            PVS_LOG_W("mDNS: avahi failed: %s", avahi_strerror(avahi_client_errno(c)));
        }
        break;
    }
}

static AvahiClient *new_client(struct pvs_gs_mdns *m)
{
    int err = 0;
    AvahiClient *c = avahi_client_new(avahi_threaded_poll_get(m->poll), AVAHI_CLIENT_NO_FAIL,
                                      client_cb, m, &err);
    if (!c)
        warn_absent(m, avahi_strerror(err)); /* no D-Bus system bus at all */
    return c;
}

int pvs_gs_mdns_open(struct pvs_gs_mdns **out, const char *name, uint16_t port)
{
    if (!out || port == 0)
        return PVS_EINVAL;
    *out = NULL;
    char host[256] = "";
    if (!name || !*name) {
        pvs_host_name(host, sizeof(host));
        name = *host ? host : "pvstream";
    }
    struct pvs_gs_mdns *m = calloc(1, sizeof(*m));
    if (!m)
        return PVS_ENOMEM;
    m->port = port;
    m->name = avahi_strdup(name);
    m->poll = m->name ? avahi_threaded_poll_new() : NULL;
    if (!m->poll) {
        avahi_free(m->name);
        free(m);
        return PVS_ENOMEM;
    }
    /* The first callbacks run inside avahi_client_new, on this thread,
     * before the poll thread starts. */
    m->client = new_client(m);
    if (avahi_threaded_poll_start(m->poll) < 0) {
        PVS_LOG_W("mDNS: cannot start Avahi's thread: the host is not announced");
        m->state = PVS_GS_MDNS_FAILED;
    }
    *out = m;
    return 0;
}

void pvs_gs_mdns_close(struct pvs_gs_mdns **mp)
{
    if (!mp || !*mp)
        return;
    struct pvs_gs_mdns *m = *mp;
    avahi_threaded_poll_stop(m->poll);
    if (m->client)
        avahi_client_free(m->client); /* and its group: the service is withdrawn */
    avahi_threaded_poll_free(m->poll);
    avahi_free(m->name);
    free(m);
    *mp = NULL;
}

enum pvs_gs_mdns_state pvs_gs_mdns_get_state(const struct pvs_gs_mdns *m, char *name,
                                             size_t name_len)
{
    if (!m)
        return PVS_GS_MDNS_FAILED;
    avahi_threaded_poll_lock(m->poll);
    enum pvs_gs_mdns_state st = m->state;
    if (name && name_len)
        snprintf(name, name_len, "%s", m->name);
    avahi_threaded_poll_unlock(m->poll);
    return st;
}
