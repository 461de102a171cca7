/*
 * bench_parse_baseline.c — the baseline of `make bench-parse`: reads SMS
 * texts from stdin one per line, as `talaash parse` does, and writes each
 * as a JSON object holding only the escaped text — the I/O and JSON cost
 * with no grammar at all. Owns nothing else.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"

int main(void)
{
    static char obuf[1 << 16];
    struct tl_buf out = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;

        if (len > 0 && line[len - 1] == '\n')
            len--;
        tl_buf_reset(&out);
        tl_buf_append_str(&out, "{\"text\":\"");
        tl_buf_append_json(&out, line, len);
        tl_buf_append_str(&out, "\"}\n");
        fwrite(out.data, 1, out.len, stdout);
    }
    free(line);
    tl_buf_free(&out);
    return ferror(stdout) ? 1 : 0;
}
