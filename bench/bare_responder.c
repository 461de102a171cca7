/*
 * bare_responder.c — the benchmark baseline: the barest libevent evhttp server.
 *
 * Answers every request 200 with a fixed small body, single-threaded, doing no
 * parsing, logging or storage. The inbound benchmark runs the same load
 * against it and against the gateway: the ratio is the gateway's own cost.
 *
 *   bare_responder --listen HOST:PORT     (port 0: ephemeral)
 *
 * Prints "port=NNNN" once listening; SIGTERM or SIGINT ends it with status 0.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char body[] = "OK\n";

static void request_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), body, sizeof(body) - 1, NULL,
                           NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    const char *listen = NULL;

    if (argc == 3 && strcmp(argv[1], "--listen") == 0)
        listen = argv[2];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen) {
        fputs("usage: bare_responder --listen HOST:PORT\n", stderr);
        return 2;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535) {
        fprintf(stderr, "bare_responder: bad port in '%s'\n", listen);
        return 2;
    }
    char host[256];
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && colon[-1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        fputs("bare_responder: host too long\n", stderr);
        return 2;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http) {
        fputs("bare_responder: libevent initialisation failed\n", stderr);
        return 1;
    }
    evhttp_set_gencb(http, request_cb, NULL);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, host, (uint16_t)port);
    if (!bound) {
        fprintf(stderr, "bare_responder: cannot listen on %s:%ld\n", host, port);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) != 0) {
        perror("bare_responder: getsockname");
        return 1;
    }
    unsigned actual = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);

    struct event *sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
    struct event *sigint = evsignal_new(base, SIGINT, signal_cb, base);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    printf("port=%u\n", actual);
    fflush(stdout);

    event_base_dispatch(base);

    evhttp_free(http);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    return 0;
}
