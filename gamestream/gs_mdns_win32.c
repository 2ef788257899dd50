/* Discovery on Windows (gs_mdns.h): DnsServiceRegister, Windows' own mDNS
 * responder (Windows 10 1809 and later). Looked up at run time, so the
 * program still starts where dnsapi.dll lacks it (older Windows, Wine):
 * there it warns once and the host is not announced. Name clashes are
 * Windows' to settle; the name asked for is the one reported. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <windns.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "gamestream/gs_mdns.h"

#ifndef DNS_REQUEST_PENDING
#define DNS_REQUEST_PENDING 9506L /* winerror.h's value; older mingw lacks it */
#endif

typedef PDNS_SERVICE_INSTANCE(WINAPI *construct_fn)(PCWSTR, PCWSTR, PIP4_ADDRESS, PIP6_ADDRESS,
                                                     WORD, WORD, WORD, DWORD, PCWSTR *,
                                                     PCWSTR *);
typedef VOID(WINAPI *free_fn)(PDNS_SERVICE_INSTANCE);
typedef DWORD(WINAPI *register_fn)(PDNS_SERVICE_REGISTER_REQUEST, PDNS_SERVICE_CANCEL);

struct pvs_gs_mdns {
    HMODULE dnsapi;
    free_fn free_instance;
    register_fn deregister;
    PDNS_SERVICE_INSTANCE instance;
    DNS_SERVICE_REGISTER_REQUEST req;
    HANDLE withdrawn;      /* set by the callback once DeRegister is done */
    volatile LONG closing;
    volatile LONG state;
    char name[256];
};

static VOID WINAPI registered(DWORD status, PVOID ctx, PDNS_SERVICE_INSTANCE inst)
{
    struct pvs_gs_mdns *m = ctx;
    if (m->closing) {
        /* the answer to DnsServiceDeRegister */
        if (inst)
            m->free_instance(inst);
        SetEvent(m->withdrawn);
        return;
    }
    InterlockedExchange(&m->state, status == ERROR_SUCCESS ? PVS_GS_MDNS_ANNOUNCED
                                                           : PVS_GS_MDNS_FAILED);
    if (status == ERROR_SUCCESS)
        PVS_LOG_I("mDNS: announced \"%s\" (%s) for Moonlight", m->name, PVS_GS_MDNS_TYPE);
    else
        PVS_LOG_W("mDNS: Windows refused to announce \"%s\": %s", m->name,
                  pvs_win32_error_text(status, (char[256]){0}, 256));
    if (inst && m->free_instance)
        m->free_instance(inst);
}

static void unavailable(struct pvs_gs_mdns *m, const char *why)
{
    m->state = PVS_GS_MDNS_FAILED;
    PVS_LOG_W("mDNS: %s: Moonlight will not list this host by itself; add the host by "
              "its address in Moonlight", why);
}

int pvs_gs_mdns_open(struct pvs_gs_mdns **out, const char *name, uint16_t port)
{
    if (!out || port == 0)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_gs_mdns *m = calloc(1, sizeof(*m));
    if (!m)
        return PVS_ENOMEM;
    char host[200] = "";
    pvs_host_name(host, sizeof(host));
    if (!*host)
        snprintf(host, sizeof(host), "pvstream");
    snprintf(m->name, sizeof(m->name), "%s", name && *name ? name : host);
    *out = m;

    m->dnsapi = LoadLibraryW(L"dnsapi.dll");
    construct_fn construct =
        m->dnsapi ? (construct_fn)(void *)GetProcAddress(m->dnsapi, "DnsServiceConstructInstance")
                  : NULL;
    register_fn reg =
        m->dnsapi ? (register_fn)(void *)GetProcAddress(m->dnsapi, "DnsServiceRegister") : NULL;
    m->deregister =
        m->dnsapi ? (register_fn)(void *)GetProcAddress(m->dnsapi, "DnsServiceDeRegister") : NULL;
    m->free_instance =
        m->dnsapi ? (free_fn)(void *)GetProcAddress(m->dnsapi, "DnsServiceFreeInstance") : NULL;
    if (!construct || !reg || !m->deregister || !m->free_instance) {
        unavailable(m, "this Windows has no DNS-SD service registration (Windows 10 1809 "
                       "or later has)");
        return 0;
    }
    /* "<name>._nvstream._tcp.local" on "<host>.local", UTF-16 */
    wchar_t wname[300], whost[220];
    char full[300], fqdn[220];
    snprintf(full, sizeof(full), "%s.%s.local", m->name, PVS_GS_MDNS_TYPE);
    snprintf(fqdn, sizeof(fqdn), "%s.local", host);
    if (!MultiByteToWideChar(CP_UTF8, 0, full, -1, wname, 300) ||
        !MultiByteToWideChar(CP_UTF8, 0, fqdn, -1, whost, 220)) {
        unavailable(m, "the host name cannot be announced");
        return 0;
    }
    m->instance = construct(wname, whost, NULL, NULL, port, 0, 0, 0, NULL, NULL);
    if (!m->instance) {
        unavailable(m, "cannot describe the service");
        return 0;
    }
    m->req.Version = DNS_QUERY_REQUEST_VERSION1;
    m->req.InterfaceIndex = 0;
    m->req.pServiceInstance = m->instance;
    m->req.pRegisterCompletionCallback = registered;
    m->req.pQueryContext = m;
    DWORD rc = reg(&m->req, NULL);
    if (rc != DNS_REQUEST_PENDING)
        unavailable(m, pvs_win32_error_text(rc, (char[256]){0}, 256));
    return 0;
}

void pvs_gs_mdns_close(struct pvs_gs_mdns **mp)
{
    if (!mp || !*mp)
        return;
    struct pvs_gs_mdns *m = *mp;
    if (m->instance && m->state != PVS_GS_MDNS_FAILED) {
        /* DeRegister answers through the same callback, later: wait for
         * it, so it never runs on freed memory. Should Windows not answer,
         * the little state is leaked rather than freed under it. */
        m->withdrawn = CreateEventW(NULL, TRUE, FALSE, NULL);
        InterlockedExchange(&m->closing, 1);
        if (!m->withdrawn || m->deregister(&m->req, NULL) != DNS_REQUEST_PENDING ||
            WaitForSingleObject(m->withdrawn, 2000) != WAIT_OBJECT_0) {
            PVS_LOG_W("mDNS: Windows did not confirm the service was withdrawn");
            *mp = NULL;
            return;
        }
        CloseHandle(m->withdrawn);
    }
    if (m->instance)
        m->free_instance(m->instance);
    if (m->dnsapi)
        FreeLibrary(m->dnsapi);
    free(m);
    *mp = NULL;
}

enum pvs_gs_mdns_state pvs_gs_mdns_get_state(const struct pvs_gs_mdns *m, char *name,
                                             size_t name_len)
{
    if (!m)
        return PVS_GS_MDNS_FAILED;
    if (name && name_len)
        snprintf(name, name_len, "%s", m->name);
    return (enum pvs_gs_mdns_state)m->state;
}
