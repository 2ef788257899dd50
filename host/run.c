/* run: being written. */
#include "common/error.h"
typedef int pvs_host_run_unused;
