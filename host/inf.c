/* inf: being written. */
#include "common/error.h"
typedef int pvs_host_inf_unused;
