/* tests/black_hole.h: a loopback address where a TCP connect hangs, neither
 * succeeding nor failing, for tests of connect deadlines and of Happy Eyeballs.
 *
 * A listener made with listen(fd, 0) that never accepts: once its accept queue holds
 * a connection, the kernel drops further SYNs and the client stays in SYN_SENT,
 * retransmitting for minutes (on loopback nothing leaves the machine). Opening one
 * fills the queue with plain sockets until a further connect stays in SYN_SENT, and
 * checks that state with TCP_INFO, so a kernel that behaved otherwise fails here
 * rather than making a later assertion pass or fail for the wrong reason.
 *
 * Call inside a task (it waits with cora_poll). Include after harness.h. */
#ifndef CORA_TEST_BLACK_HOLE_H
#define CORA_TEST_BLACK_HOLE_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>

typedef struct black_hole {
    int lfd, port;
    int fill[4], nfill; /* the connections that fill the accept queue */
} black_hole;

/* Opens a black hole on host (numeric) and port (0: any free one). Returns 0, or
 * -EADDRINUSE when that port is taken (the caller may try another). */
static inline int black_hole_open(black_hole *b, const char *host, int port)
{
    struct sockaddr_storage ss;
    int len = cora_addr(host, port, &ss);
    assert_true(len > 0);
    b->nfill = 0;
    b->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(b->lfd >= 0);
    if (bind(b->lfd, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
        int e = errno;
        close(b->lfd);
        assert_int_equal(e, EADDRINUSE);
        return -EADDRINUSE;
    }
    assert_int_equal(listen(b->lfd, 0), 0);
    b->port = cora_socket_port(b->lfd);
    len = cora_addr(host, b->port, &ss);
    for (;;) {
        int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(s >= 0);
        int r = connect(s, (struct sockaddr *)&ss, (socklen_t)len);
        assert_true(r == 0 || errno == EINPROGRESS);
        struct pollfd p = {.fd = s, .events = POLLOUT};
        int n = r == 0 ? 1 : cora_poll(&p, 1, 0.5);
        assert_true(n >= 0);
        if (n == 1) { /* the handshake completed: the queue had room */
            int err = -1;
            socklen_t el = sizeof err;
            assert_int_equal(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el), 0);
            assert_int_equal(err, 0);
            if (b->nfill == 4) fail_msg("black hole: the accept queue never filled");
            b->fill[b->nfill++] = s;
            continue;
        }
        /* Still connecting after half a second: the SYN was dropped. */
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        assert_int_equal(getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
        assert_int_equal(ti.tcpi_state, TCP_SYN_SENT);
        close(s);
        break;
    }
    assert_true(b->nfill >= 1);
    return 0;
}

static inline void black_hole_close(black_hole *b)
{
    for (int i = 0; i < b->nfill; i++)
        close(b->fill[i]);
    close(b->lfd);
}

/* How many sockets of this machine are in SYN_SENT towards port (IPv4 and IPv6
 * both), from /proc/net/tcp and tcp6. After black_hole_open closed its probe, those
 * towards a black hole's port are the connects that hang in it. */
static inline int syn_sent_to(int port)
{
    static const char *const files[2] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) continue;
        char line[512], local[64], remote[64];
        unsigned state;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, " %*s %63s %63s %x", local, remote, &state) != 3) continue;
            char *colon = strrchr(remote, ':');
            if (colon && state == TCP_SYN_SENT && strtol(colon + 1, NULL, 16) == port) n++;
        }
        fclose(f);
    }
    return n;
}

#endif
