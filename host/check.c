/* check: being written. */
#include "common/error.h"
typedef int pvs_host_check_unused;
