/* planfile: being written. */
#include "common/error.h"
typedef int pvs_host_planfile_unused;
