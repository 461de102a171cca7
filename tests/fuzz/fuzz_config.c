/*
 * fuzz_config.c — libFuzzer harness for the config file reader
 * (gateway/config.h): any bytes as the file's text, through libinih, the
 * option table, `${NAME}` from the environment, the channel sections and
 * the escalation schedule.
 *
 * Checked: a file is accepted or refused with a cause that names it
 * ("fuzz.conf: …" or "fuzz.conf:LINE: …"); an accepted one has every
 * channel named, with a known provider, and at most TL_ESCALATION_MAX
 * stages in increasing time; freeing it leaves nothing behind (ASan's leak
 * check). The schedule parser also gets the first line on its own.
 */
#include "common/result.h"
#include "common/xmalloc.h"
#include "gateway/config.h"
#include "providers/providers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char name[] = "fuzz.conf";
    struct tl_config *cfg = NULL;
    struct tl_escalation_stage stages[TL_ESCALATION_MAX];
    size_t nstages = 0;
    char *text = xstrndup((const char *)data, size);
    char *cause = NULL;
    int rc;

    setenv("FUZZ_SECRET", "s3cret", 0);
    setenv("FUZZ_EMPTY", "", 0);
    rc = config_load_string(name, text, &cfg, &cause);
    if (rc == TL_OK) {
        check(cfg != NULL && cause == NULL);
        check(cfg->nstages <= TL_ESCALATION_MAX);
        for (size_t i = 0; i < cfg->nchannels; i++) {
            const struct tl_channel_conf *ch = &cfg->channels[i];
            check(ch->name != NULL && ch->name[0] != '\0');
            check(ch->provider != NULL && provider_find(ch->provider) != NULL);
            check(config_channel(cfg, ch->name) != NULL);
        }
        for (size_t i = 1; i < cfg->nstages; i++)
            check(cfg->stages[i].after_s > cfg->stages[i - 1].after_s);
        config_free(cfg);
    } else {
        check(rc == TL_ERR_CONFIG && cause != NULL);
        check(strncmp(cause, name, sizeof(name) - 1) == 0 && cause[sizeof(name) - 1] == ':');
        free(cause);
    }
    char *nl = strchr(text, '\n');
    if (nl != NULL)
        *nl = '\0';
    cause = config_parse_schedule(text, stages, &nstages);
    if (cause == NULL) {
        check(nstages <= TL_ESCALATION_MAX);
        for (size_t i = 1; i < nstages; i++)
            check(stages[i].after_s > stages[i - 1].after_s);
    }
    free(cause);
    free(text);
    return 0;
}
