/* pvstream-host drivers. */
#include <stdio.h>

#include "host/cmds.h"

int pvs_host_cmd_drivers(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pvstream-host drivers: not implemented yet\n");
    return 2;
}
