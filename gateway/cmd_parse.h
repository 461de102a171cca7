/*
 * cmd_parse.h — `talaash parse [--lang xx]`: SMS texts on stdin, one JSON
 * object per line on stdout with what the gateway understood (SPEC.md §11).
 */
#ifndef TALAASH_CMD_PARSE_H
#define TALAASH_CMD_PARSE_H

/* argv[0] is "parse". Returns the process exit status. */
int cmd_parse_main(int argc, char **argv);

#endif
