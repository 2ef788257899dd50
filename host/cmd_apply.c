/* pvstream-host apply. */
#include <stdio.h>

#include "host/cmds.h"

int pvs_host_cmd_apply(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pvstream-host apply: not implemented yet\n");
    return 2;
}
