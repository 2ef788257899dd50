/* manifest: being written. */
#include "common/error.h"
typedef int pvs_host_manifest_unused;
