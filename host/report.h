/* A plan as text: the table `pvstream-host plan` prints, and its --json.
 *
 * JSON shape (numbers are exact unsigned 64-bit integers; a reader that
 * parses numbers as doubles, JavaScript's JSON.parse for one, must use a
 * big-integer option for encode, whose values pass 2^53):
 *   {"backend": "hyperv",
 *    "totals": {"vram": T, "encode": T, "decode": T, "compute": T},
 *    "vms": [{"name": "vm1", "weight": 1,
 *             "vram": {"min": N, "optimal": N, "max": N},
 *             "encode": {...}, "decode": {...}, "compute": {...}}, ...],
 *    "warnings": [{"id": "advisory", "message": "..."}, ...]}
 * Warning ids: "advisory", "encode-sessions", "identical-gpus". */
#ifndef PVS_HOST_REPORT_H
#define PVS_HOST_REPORT_H

#include "host/plan.h"

/* The warning's id as in the JSON ("advisory"...); NULL for an unknown bit. */
const char *pvs_plan_warning_id(unsigned warning);

/* names[i] names VM i; names == NULL (or a NULL entry) gives "vm<i+1>".
 * On success *out is a string the caller frees. Returns 0, PVS_EINVAL
 * (a name with a control character, for the table) or PVS_ENOMEM. */
int pvs_plan_format_table(const struct pvs_plan *plan, const char *backend,
                          const char *const *names, char **out);
int pvs_plan_format_json(const struct pvs_plan *plan, const char *backend,
                         const char *const *names, char **out);

#endif
