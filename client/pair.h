/* PIN pairing on the client, and where the client keeps its keys. */
#ifndef PVS_CLIENT_PAIR_H
#define PVS_CLIENT_PAIR_H

#include <stddef.h>
#include <stdint.h>

/* The paths of the client's key and of its paired servers. Returns 0 or a
 * negative code. */
int pvs_client_key_paths(char *key, size_t key_len, char *servers, size_t servers_len);

/* "HOST:PORT": a paired server's name in the servers file. */
void pvs_client_server_name(const char *host, uint16_t port, char *out, size_t len);

struct pvs_static_keys;

/* This client's identity key, and the key of the server paired as
 * "HOST:PORT". Returns 0, PVS_ENOENT when that server is not paired, or
 * another code (a key or peers file refused: the log says how to fix it). */
int pvs_client_load_pairing(const char *host, uint16_t port, struct pvs_static_keys *identity,
                            uint8_t server_key[32]);

/* `pvstream-client pair ...` (argv[0] is "pair"). Returns the exit code. */
int pvs_client_pair_main(int argc, char **argv);

#endif
