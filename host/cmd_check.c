/* pvstream-host check. */
#include <stdio.h>

#include "host/cmds.h"

int pvs_host_cmd_check(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pvstream-host check: not implemented yet\n");
    return 2;
}
