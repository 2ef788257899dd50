/* GameStream's control stream on ENet, UDP port 47999: the host end that a
 * Moonlight client connects to after the RTSP handshake (gamestream/
 * gs_control.h has the framing and messages, gamestream/gs_input.h the
 * input).
 *
 * The client connects with PVS_GS_CTL_CHANNELS channels and, as ENet's
 * connect data, the X-SS-Connect-Data value of its control SETUP (fact
 * from moonlight-common-c src/ControlStream.c, startControlStream). A
 * connection is taken only while a launch is armed, from the launch's
 * client address, with that connect data; a valid new one replaces the old
 * (a client that restarted). Everything else is disconnected at once and
 * counted. ENet 1.3 speaks IPv4 only.
 *
 * Threading: one thread (the control thread) calls service and the send
 * functions; arm, disarm and stats may be called from any thread. */
#ifndef PVS_GS_CONTROL_SERVER_H
#define PVS_GS_CONTROL_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/platform/platform.h"
#include "gamestream/gs_control.h"

struct pvs_gs_control;

struct pvs_gs_control_config {
    const char *bind_host;       /* NULL or "": every IPv4 address */
    uint16_t port;               /* PVS_GS_CONTROL_PORT (47999); 0 picks one (tests) */
    int peer_timeout_ms;         /* a silent client is gone after this; 0: 10000 */
};

enum pvs_gs_control_event_type {
    PVS_GS_CONTROL_EV_NONE = 0,
    PVS_GS_CONTROL_EV_CONNECTED,     /* the launch's client is on */
    PVS_GS_CONTROL_EV_MESSAGE,       /* ev.msg; for input, ev.input too */
    PVS_GS_CONTROL_EV_DISCONNECTED,  /* it left or timed out (the stream should end) */
};

struct pvs_gs_control_event {
    enum pvs_gs_control_event_type type;
    struct pvs_gs_ctl_msg msg;
    /* For PVS_GS_CTL_INPUT: the message mapped onto pvstream's events
     * (gamestream/gs_input.h), input_count of them (0 or 1). */
    int input_count;
    struct pvs_input_event input;
};

struct pvs_gs_control_stats {
    struct pvs_gs_ctl_crypto_stats crypto;  /* this launch's sessions, summed */
    uint64_t connects;           /* accepted */
    uint64_t refused;            /* not armed, another host, wrong connect data */
    uint64_t messages;           /* parsed and handed out */
    uint64_t unknown;            /* authentic, of a type the host does not read */
    uint64_t bad_messages;       /* authentic but malformed */
    uint64_t input_unmapped;     /* input with no pvstream event */
    uint64_t sent, send_failed;
};

/* Opens the ENet host. Returns 0 or a negative PVS_E* code, logged. */
int pvs_gs_control_open(struct pvs_gs_control **out, const struct pvs_gs_control_config *cfg);

uint16_t pvs_gs_control_port(const struct pvs_gs_control *c);

/* Arms for one launch: the rikey, whether the client enabled the 12-byte
 * IVs (the ANNOUNCE's encryption has PVS_GS_ENC_CONTROL_V2), the connect
 * data the RTSP SETUP gave, and the client's address (NULL: any). A
 * connected client from an earlier launch is disconnected. */
void pvs_gs_control_arm(struct pvs_gs_control *c, const uint8_t key[16], bool v2,
                        uint32_t connect_data, const struct pvs_addr *client);

/* Ends the launch: disconnects the client, wipes the key. */
void pvs_gs_control_disarm(struct pvs_gs_control *c);

/* Services ENet for up to timeout_ms. Returns 1 with *ev filled, 0 when
 * nothing the caller acts on happened, or a negative code when ENet
 * failed. Drops (counted) whatever does not open or parse. */
int pvs_gs_control_service(struct pvs_gs_control *c, int timeout_ms,
                           struct pvs_gs_control_event *ev);

/* True while a client is connected. */
bool pvs_gs_control_connected(const struct pvs_gs_control *c);

/* Seals and sends one message to the connected client (reliable, channel
 * 0). Returns 0, PVS_EAGAIN when no client is connected, or another
 * negative code. */
int pvs_gs_control_send(struct pvs_gs_control *c, uint16_t type, const uint8_t *payload,
                        size_t len);

/* The host's messages: a game's rumble for a pad, the end of the stream
 * (code: PVS_GS_TERMINATE_*; the client ends its session at once), HDR on
 * or off. */
int pvs_gs_control_send_rumble(struct pvs_gs_control *c, uint16_t pad, uint16_t low_freq,
                               uint16_t high_freq);
int pvs_gs_control_send_termination(struct pvs_gs_control *c, uint32_t code);
int pvs_gs_control_send_hdr(struct pvs_gs_control *c, bool enabled);

void pvs_gs_control_get_stats(struct pvs_gs_control *c, struct pvs_gs_control_stats *out);

/* Disconnects and closes. Accepts NULL; clears *c. */
void pvs_gs_control_close(struct pvs_gs_control **c);

#endif
