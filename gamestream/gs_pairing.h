/* The host's side of Moonlight's PIN pairing (GameStream's /pair requests)
 * and of /unpair: a state machine for one pairing at a time that answers
 * each request with the XML body to send back. It knows nothing of HTTP:
 * the HTTP layer gives it the request's query (gs_query.h), the TLS peer's
 * certificate when the request came over HTTPS, and sends the XML with
 * HTTP status 200 and Content-Type "application/xml".
 *
 * The sequence (docs/gamestream.md has what each step checks):
 *   1. phrase=getservercert&salt=HEX16&clientcert=HEX(PEM)  (HTTP)
 *      waits until the user enters the PIN the client shows on the host
 *      (pvs_gs_pairing_set_pin), then answers with the host certificate;
 *   2. clientchallenge=HEX16         (HTTP)
 *   3. serverchallengeresp=HEX32     (HTTP)
 *   4. clientpairingsecret=HEX(16 + signature)  (HTTP): checks the PIN and
 *      the client's key;
 *   5. phrase=pairchallenge          (HTTPS, with the client's certificate):
 *      stores the client (gs_clients.h); paired.
 * Every request carries uniqueid=...; steps 2-5 must come from the client
 * (the uniqueid) that sent step 1. Any failed check, malformed value or
 * step out of order answers "not paired" and ends the attempt: the client
 * starts again from step 1. An attempt left idle for PVS_GS_PAIRING_IDLE_S
 * seconds between steps is dropped.
 *
 * The hashes are SHA-256 because the host says it is GameStream generation
 * 7 (PVS_GS_APPVERSION: serverinfo's <appversion> must be it); clients use
 * SHA-1 with hosts older than 7.
 *
 * Threads: pvs_gs_pairing_handle runs on the HTTP server's threads, several
 * at once; step 1 blocks its thread until the PIN comes (or the timeout).
 * pvs_gs_pairing_set_pin, _waiting and _stop may be called from any
 * thread. */
#ifndef PVS_GS_PAIRING_H
#define PVS_GS_PAIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gamestream/gs_crypto.h"
#include "gamestream/gs_query.h"

/* The GameStream version the host reports (serverinfo's <appversion>);
 * its first number picks the pairing hash (7: SHA-256). */
#define PVS_GS_APPVERSION "7.1.431.-1"

#define PVS_GS_PIN_DIGITS 4
#define PVS_GS_PAIRING_IDLE_S 60
/* Room that any reply of this module fits in. */
#define PVS_GS_PAIRING_XML_MAX 8192

struct pvs_gs_pairing;

struct pvs_gs_pairing_opts {
    const struct pvs_gs_host *host;  /* the host key and certificate; outlives the pairing */
    const char *clients_path;        /* the paired-client store (gs_clients.h); copied */
    /* How long step 1 waits for the PIN, in ms: PVS_GS_PIN_TIMEOUT_MS
     * suits people; 0 does not wait (the PIN must come from on_waiting). */
    int pin_timeout_ms;
    /* Called (without locks held, on the waiting HTTP thread) when a client
     * starts waiting for its PIN; `name` is the name it will be stored under.
     * May call pvs_gs_pairing_set_pin. NULL: only the log says so. */
    void (*on_waiting)(void *user, const char *name);
    void *user;
};

#define PVS_GS_PIN_TIMEOUT_MS (120 * 1000)

/* Returns 0, PVS_EINVAL (no host or clients_path), PVS_ENOMEM or a code
 * from the platform's mutex and condition variable. */
int pvs_gs_pairing_open(struct pvs_gs_pairing **out, const struct pvs_gs_pairing_opts *o);

/* Frees it and clears the pointer. Accepts NULL. No call may be running in
 * it: pvs_gs_pairing_stop, then stop the HTTP threads, then close. */
void pvs_gs_pairing_close(struct pvs_gs_pairing **p);

/* Answers a /pair request. peer_cert_der: the TLS peer's certificate (DER)
 * when over_tls and the client sent one, else NULL. Writes the XML,
 * NUL-terminated, to xml_out (PVS_GS_PAIRING_XML_MAX is always enough) and
 * returns its length, or PVS_ERANGE when cap is too small (the attempt is
 * ended) or PVS_EINVAL for a NULL argument. Never fails on the request's
 * content: a bad request gets a "not paired" reply. */
int pvs_gs_pairing_handle(struct pvs_gs_pairing *p, const struct pvs_gs_query *q,
                          const uint8_t *peer_cert_der, size_t peer_len, bool over_tls,
                          char *xml_out, size_t cap);

/* Answers an /unpair request. Over HTTPS from a paired client: removes that
 * client from the store. Otherwise (plain HTTP, as Moonlight sends it after
 * a failed pairing, or an unknown certificate): ends the pairing attempt of
 * the client with this uniqueid, if any, and removes nobody: over plain HTTP
 * anyone could send it. Writes the XML as pvs_gs_pairing_handle does. */
int pvs_gs_pairing_unpair(struct pvs_gs_pairing *p, const struct pvs_gs_query *q,
                          const uint8_t *peer_cert_der, size_t peer_len, bool over_tls,
                          char *xml_out, size_t cap);

/* Hands over the PIN a waiting client showed: exactly 4 ASCII digits.
 * Returns 0, PVS_EINVAL for anything else, or PVS_ENOENT when no client is
 * waiting for one. */
int pvs_gs_pairing_set_pin(struct pvs_gs_pairing *p, const char *pin);

/* True while a client waits for its PIN; its name goes to name (cap bytes,
 * NUL-terminated) when name is not NULL. */
bool pvs_gs_pairing_waiting(struct pvs_gs_pairing *p, char *name, size_t cap);

/* For shutting down: ends any attempt, wakes a thread waiting for a PIN
 * (its client is told "not paired") and refuses every later pairing, so no
 * HTTP thread blocks in here any more. */
void pvs_gs_pairing_stop(struct pvs_gs_pairing *p);

#endif
