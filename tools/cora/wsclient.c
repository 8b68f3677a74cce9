/* tools/cora/wsclient.c: `cora ws URL`, an interactive WebSocket client. Each line typed
 * (or read from stdin) is sent as a text message; each message received is printed on
 * its own line (binary ones as "[binary N bytes]"). End of input closes the connection
 * with 1000 and waits for the server's close; the server closing ends the command. */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct session {
    cora_ws *ws;
    double linger; /* seconds to keep receiving after the end of input */
} session;

static void *receiver(void *arg)
{
    session *s = arg;
    cora_ws_msg m;
    int r;
    while ((r = cora_ws_recv(s->ws, &m)) == 0) {
        if (m.type == CORA_WS_TEXT)
            printf("%.*s\n", (int)m.len, (const char *)m.data);
        else
            printf("[binary %zu bytes]\n", m.len);
        fflush(stdout);
    }
    return r == -EPIPE ? NULL : cora_fail(r);
}

/* Reads up to cap bytes of stdin without holding up the loop: a pipe or terminal is
 * waited on first; a regular file never blocks for long. */
static ssize_t read_stdin(char *buf, size_t cap, int is_file)
{
    if (!is_file) {
        int ev = cora_wait_fd(STDIN_FILENO, CORA_READABLE);
        if (ev < 0) return ev;
    }
    ssize_t n = read(STDIN_FILENO, buf, cap);
    return n < 0 ? -errno : n;
}

/* Sends each complete line of stdin (a last line without "\n" too). */
static int send_lines(session *s)
{
    struct stat st;
    int is_file = fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) return -ENOMEM;
    int r = 0;
    for (;;) {
        if (len == cap) {
            r = -EMSGSIZE; /* a line over 64 KiB */
            break;
        }
        ssize_t n = read_stdin(buf + len, cap - len, is_file);
        if (n <= 0) {
            if (n == 0 && len)
                r = cora_ws_send(s->ws, CORA_WS_TEXT, buf, len);
            else
                r = (int)n;
            break;
        }
        len += (size_t)n;
        char *start = buf, *nl;
        while (r == 0 && (nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            size_t ll = (size_t)(nl - start);
            if (ll && start[ll - 1] == '\r') ll--;
            r = cora_ws_send(s->ws, CORA_WS_TEXT, start, ll);
            start = nl + 1;
        }
        if (r < 0) break;
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
    }
    free(buf);
    return r;
}

/* Sends stdin's lines, then closes with 1000 (waiting for the server's answer). */
static void *sender(void *arg)
{
    session *s = arg;
    int r = send_lines(s);
    if (r == -EPIPE) return NULL; /* the server went first: the receiver reports it */
    /* Answers to the last lines may still be on their way; a server that sees our
     * close first may drop them. */
    if (r == 0 && s->linger > 0) r = cora_sleep(s->linger);
    if (r == 0) r = cora_ws_close(s->ws, 1000, "");
    return r < 0 ? cora_fail(r) : NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cora ws [--deflate] [--subprotocol P] [--timeout S] [--linger S] URL\n"
               "  Sends each line of stdin as a text message and prints each message\n"
               "  received. URL is ws://HOST[:PORT]/PATH or wss://... The end of input\n"
               "  closes the connection, --linger S seconds later (default 0).\n");
}

int cora_tool_ws(int argc, char **argv)
{
    cora_ws_opts o = {0};
    session s = {0};
    static const struct option longs[] = {
        {"deflate", no_argument, NULL, 'd'},       {"subprotocol", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'}, {"linger", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "ds:t:l:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o.permessage_deflate = 1;
            break;
        case 's':
            o.subprotocols = optarg;
            break;
        case 't':
            if (cora_tool_seconds("ws", "--timeout", optarg, 0, &o.handshake_timeout) < 0) return 2;
            break;
        case 'l':
            if (cora_tool_seconds("ws", "--linger", optarg, 1, &s.linger) < 0) return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *url = argv[optind];
    int r = cora_ws_connect(url, &o, &s.ws);
    if (r < 0) {
        fprintf(stderr, "cora ws: %s: %s\n", url,
                r == -EINVAL   ? "not a ws:// or wss:// URL"
                : r == -EPROTO ? "the server did not accept the WebSocket upgrade"
                               : cora_strerror(r));
        return 1;
    }
    fprintf(stderr, "connected to %s%s%s%s\n", url, cora_ws_compressed(s.ws) ? " (deflate)" : "",
            cora_ws_subprotocol(s.ws) ? ", subprotocol " : "",
            cora_ws_subprotocol(s.ws) ? cora_ws_subprotocol(s.ws) : "");
    /* Whichever ends first, input or the server, ends the session: input's end closes
     * the connection, which ends the receiver; the server's close (the receiver
     * ending) cancels the sender, which may be waiting for a line that never comes. */
    cora_task *rx = cora_spawn(receiver, &s), *tx = rx ? cora_spawn(sender, &s) : NULL;
    int rr = rx ? cora_await(rx, NULL) : -ENOMEM;
    if (tx) cora_cancel(tx);
    r = tx ? cora_await(tx, NULL) : -ENOMEM;
    unsigned code = cora_ws_close_code(s.ws);
    if (code && code != 1000 && code != 1005)
        fprintf(stderr, "cora ws: closed by the server: %u %s\n", code, cora_ws_close_reason(s.ws));
    if (r < 0 && r != -ECANCELED) fprintf(stderr, "cora ws: sending: %s\n", cora_strerror(r));
    if (rr < 0) fprintf(stderr, "cora ws: receiving: %s\n", cora_strerror(rr));
    cora_ws_free(s.ws);
    return (r < 0 && r != -ECANCELED) || rr < 0 ? 1 : 0;
}
