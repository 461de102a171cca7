/*
 * group.h — group commit for the aggregator callbacks.
 *
 * Every callback that writes joins the group (group_join): the first one of
 * a pass of the event loop opens a store transaction, the others run inside
 * it, each in its own savepoint (store_tx_begin nests), so a failing
 * callback undoes only its own work. Their answers are handed to
 * group_answer, which holds them. When the loop has run every callback
 * that was ready (the flush event is activated by the first one and has
 * their priority, so it queues behind them), the group commits once and
 * sends the held answers — or 503 to each when the commit failed, so the
 * aggregators retry. An aggregator therefore still
 * hears 2xx only after its data is committed, and N callbacks in one pass
 * cost one commit instead of N.
 *
 * A group is flushed early when it holds GROUP_MAX_HELD answers or is
 * GROUP_MAX_AGE_MS old (so a busy loop cannot starve it), and before the
 * sender claims messages (a message is sent only once its row is committed;
 * daemon.c wires the sender's claim hook to group_flush).
 */
#ifndef TALAASH_GROUP_H
#define TALAASH_GROUP_H

#include <stddef.h>

struct evhttp_request;
struct tl_buf;
struct tl_daemon;
struct tl_group;

#define GROUP_MAX_HELD 256
#define GROUP_MAX_AGE_MS 20.0

/*
 * The flush has the callbacks' priority (daemon.h), so it runs in the same
 * pass as they do (the connections' epoll changes are applied together, see
 * daemon.c), before the sender's kick. A committed flush reports the outbox
 * through daemon_outbox_ready; the group does not know the sender.
 */

int group_new(struct tl_daemon *d, struct tl_group **out);
/* Flushes what is open, then frees. */
void group_free(struct tl_group *g);
/* Joins the open group or opens one: TL_OK, or TL_ERR_STORE (answer 503). */
int group_join(struct tl_group *g);
/*
 * Answers req when the group commits (takes body's bytes; content_type is a
 * static string). With no group open, answers at once.
 */
void group_answer(struct tl_group *g, struct evhttp_request *req, int status,
                  const char *content_type, struct tl_buf *body);
/*
 * Dooms the open group: its flush rolls back and answers 503 to every held
 * answer, so every aggregator retries (for a callback whose failure could
 * not be recorded, which must not commit as if it had succeeded).
 */
void group_fail(struct tl_group *g);
/* Commits the open group now and sends its answers; a no-op when none is open. */
void group_flush(struct tl_group *g);

#endif
