/* drivers: being written. */
#include "common/error.h"
typedef int pvs_host_drivers_unused;
