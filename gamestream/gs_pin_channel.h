/* The PIN channel (docs/gamestream.md, "PIN entry"): Moonlight shows a
 * 4-digit PIN, the user types `pvstream-server pin 1234` on the host, and
 * that command hands the PIN to the running server over a local channel
 * only the same user or an administrator can open
 * (common/platform/localipc.h: a Unix socket in the configuration
 * directory, a named pipe on Windows).
 *
 * On the channel, one exchange per connection, ASCII lines:
 *   command -> server:  "PIN 1234\n"
 *   server -> command:  "OK <what happened>\n" or "NO <why not>\n"
 * Anything else is dropped unanswered and counted. */
#ifndef PVS_GS_PIN_CHANNEL_H
#define PVS_GS_PIN_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_GS_PIN_DIGITS 4
#define PVS_GS_PIN_CHANNEL_NAME "gamestream-pin" /* the socket or pipe name */
#define PVS_GS_PIN_ANSWER_MAX 200 /* longest answer text, without "OK "/"NO " */

/* True when pin is exactly four ASCII digits. */
bool pvs_gs_pin_valid(const char *pin);

/* Told each PIN; runs on the channel's thread. Returns true when the PIN
 * was taken (a Moonlight client was waiting for it), false otherwise;
 * writes a sentence for the user into answer either way ("accepted", "no
 * Moonlight client is waiting for a PIN"). */
typedef bool (*pvs_gs_pin_fn)(void *opaque, const char *pin, char *answer, size_t answer_len);

struct pvs_gs_pin_channel;

struct pvs_gs_pin_stats {
    uint64_t pins;     /* valid PINs handed to the callback */
    uint64_t dropped;  /* connections that sent something else, or nothing */
    uint64_t refused;  /* connections from users who may not use the channel */
};

/* Opens the channel in `dir` (NULL: pvstream's configuration directory,
 * net/identity.h's pvs_identity_dir) and starts its thread. Returns 0, or
 * a negative code (logged): -EADDRINUSE when another server holds it,
 * PVS_ECONFIG when the directory is not private. */
int pvs_gs_pin_channel_open(struct pvs_gs_pin_channel **out, const char *dir,
                            pvs_gs_pin_fn fn, void *opaque);

/* Stops the thread (within 100 ms, or when the callback returns), removes
 * the socket, frees and clears *c. Accepts NULL. */
void pvs_gs_pin_channel_close(struct pvs_gs_pin_channel **c);

void pvs_gs_pin_channel_get_stats(const struct pvs_gs_pin_channel *c,
                                  struct pvs_gs_pin_stats *out);

/* The command's side: sends pin to the server listening in `dir` (NULL as
 * above) and puts the server's answer, or what went wrong, in answer (a
 * sentence for the user). Returns 0 when the server took the PIN;
 * PVS_EAGAIN when it answered no (the answer says why); PVS_EINVAL for a
 * PIN that is not 4 digits; PVS_ENOENT when no server is listening;
 * -EACCES when the system refused (another user's server); PVS_ETIMEDOUT
 * or another code when the exchange failed. Logs nothing. */
int pvs_gs_pin_send(const char *dir, const char *pin, char *answer, size_t answer_len);

/* ---- the messages (exposed for the fuzz target and tests) -------------------- */

/* Parses "PIN dddd\n": 0 with the PIN in pin (NUL-terminated), or
 * PVS_EBADDATA. */
int pvs_gs_pin_parse_request(const char *buf, size_t len, char pin[PVS_GS_PIN_DIGITS + 1]);

/* Parses "OK text\n" or "NO text\n" (printable ASCII text, at most
 * PVS_GS_PIN_ANSWER_MAX bytes): 0 with *taken and the text in text (cut
 * to fit text_len), or PVS_EBADDATA. */
int pvs_gs_pin_parse_answer(const char *buf, size_t len, bool *taken, char *text,
                            size_t text_len);

#endif
