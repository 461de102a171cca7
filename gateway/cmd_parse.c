/*
 * cmd_parse.c — the `talaash parse` subcommand (placeholder until the grammar lands).
 */
#include "gateway/cmd_parse.h"

#include <stdio.h>

int cmd_parse_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "talaash parse: not built yet\n");
    return 1;
}
