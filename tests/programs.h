/* Helpers for the tests that run the real programs: read what they wrote,
 * and clean up after them. */
#ifndef PVS_TEST_PROGRAMS_H
#define PVS_TEST_PROGRAMS_H

#include <stdbool.h>

#include <stddef.h>

/* A whole file as a NUL-terminated string (free it), or NULL. */
char *pvs_test_slurp(const char *path);
/* The same, with its length in bytes (the NUL not counted) in *len. */
char *pvs_test_slurp_len(const char *path, size_t *len);

/* Whether an executable `prog` is in a directory of $PATH. */
bool pvs_test_on_path(const char *prog);

/* The number after "key": in JSON text (inside the object after
 * "section": when section is not NULL), or -1 when absent. */
double pvs_test_json_num(const char *text, const char *section, const char *key);

/* Removes the test's scratch directory when it passed; keeps it (and says
 * where) when it failed, or when PVS_KEEP_SCRATCH is set, for its logs. */
void pvs_test_scratch_done(const char *dir, bool failed);

#endif
