/* Fuzz target for Moonlight pairing (gamestream/gs_pairing.h): arbitrary
 * sequences of /pair and /unpair requests through one pairing state
 * machine. Every request must get an XML reply of the length returned, and
 * no sequence may pair (a <paired>1</paired> answer to pairchallenge, or a
 * client stored): that would need the PIN-derived key and a client's
 * private key, which no input has.
 *
 * Input: requests, one per line. The first character says how it comes:
 *   'H' /pair over HTTP, 'T' /pair over HTTPS with a client certificate,
 *   'U' /unpair over HTTP, 'V' /unpair over HTTPS, 'P' the PIN typed on the
 *   host (the rest of the line); anything else is an 'H' line.
 * The rest is "name=value&name=value..." (no URL decoding: the HTTP layer
 * does that). The value "$CERT" stands for the hex of a real certificate's
 * PEM, so step 1 can succeed. A client waiting for its PIN gets "1234" at
 * once; the PIN timeout is 0. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_crypto.h"
#include "gamestream/gs_pairing.h"
#include "tests/fuzz/fuzz.h"

#define MAX_REQUESTS 16
/* Never written: no input can complete a pairing. */
#define STORE "fuzz_gs_pairing.clients-never-written"

static struct pvs_gs_host *g_host;
static char *g_cert_hex;
static const uint8_t *g_der;
static size_t g_der_len;

static void setup(void)
{
    pvs_log_set_level(getenv("PVS_FUZZ_LOG") ? PVS_LOG_DEBUG : PVS_LOG_QUIET);
    if (pvs_gs_host_generate(&g_host, "fuzz") != 0)
        abort();
    size_t pem_len;
    const char *pem = pvs_gs_host_cert_pem(g_host, &pem_len);
    g_cert_hex = malloc(2 * pem_len + 1);
    if (!g_cert_hex || pvs_gs_hex_encode(pem, pem_len, g_cert_hex, 2 * pem_len + 1) < 0)
        abort();
    g_der = pvs_gs_cert_der(pvs_gs_host_cert(g_host), &g_der_len);
}

static void on_waiting(void *user, const char *name)
{
    (void)name;
    pvs_gs_pairing_set_pin(*(struct pvs_gs_pairing **)user, "1234");
}

/* Splits "a=b&c=d" in place into q. */
static void parse_params(char *s, struct pvs_gs_query *q)
{
    memset(q, 0, sizeof(*q));
    while (s && *s && q->count < PVS_GS_QUERY_MAX) {
        char *amp = strchr(s, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(s, '=');
        if (eq)
            *eq = '\0';
        const char *value = eq ? eq + 1 : "";
        if (strcmp(value, "$CERT") == 0)
            value = g_cert_hex;
        q->params[q->count++] = (struct pvs_gs_param){ s, value };
        s = amp ? amp + 1 : NULL;
    }
}

static void one_request(struct pvs_gs_pairing *p, char kind, char *rest)
{
    if (kind == 'P') {
        pvs_gs_pairing_set_pin(p, rest);
        return;
    }
    struct pvs_gs_query q;
    parse_params(rest, &q);
    bool tls = kind == 'T' || kind == 'V';
    static char xml[PVS_GS_PAIRING_XML_MAX];
    int n = kind == 'U' || kind == 'V'
                ? pvs_gs_pairing_unpair(p, &q, tls ? g_der : NULL, tls ? g_der_len : 0, tls,
                                        xml, sizeof(xml))
                : pvs_gs_pairing_handle(p, &q, tls ? g_der : NULL, tls ? g_der_len : 0, tls,
                                        xml, sizeof(xml));
    if (n <= 0 || (size_t)n != strlen(xml) || strncmp(xml, "<?xml", 5) != 0)
        abort();
    const char *phrase = pvs_gs_query_get(&q, "phrase");
    if (phrase && strcmp(phrase, "pairchallenge") == 0 && strstr(xml, "<paired>1</paired>"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_host)
        setup();
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    struct pvs_gs_pairing *p;
    struct pvs_gs_pairing_opts o = {
        .host = g_host, .clients_path = STORE, .pin_timeout_ms = 0,
        .on_waiting = on_waiting, .user = &p,
    };
    if (pvs_gs_pairing_open(&p, &o) != 0)
        abort();
    char *line = text;
    for (int i = 0; line && i < MAX_REQUESTS; i++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char kind = line[0];
        bool known = kind == 'H' || kind == 'T' || kind == 'U' || kind == 'V' || kind == 'P';
        one_request(p, known ? kind : 'H', known ? line + 1 : line);
        line = nl ? nl + 1 : NULL;
    }
    pvs_gs_pairing_close(&p);
    free(text);
    FILE *f = fopen(STORE, "r");
    if (f)
        abort();
    return 0;
}
