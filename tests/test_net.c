/* tests/test_net.c: TCP, UDP, Unix sockets and pairs, name lookup; cancellation of
 * accept, connect and recv; a peer that vanishes mid-write; ten thousand concurrent
 * connections. Runs once per backend (see harness.h). */
#include "harness.h"
#include "black_hole.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* ---- an echo server ------------------------------------------------------------- */

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = cora_recv(fd, buf, sizeof buf, 0)) > 0)
        if (cora_send_all(fd, buf, (size_t)n, NULL) < 0) break;
    close(fd);
    return NULL;
}

/* Accepts until cancelled; each connection gets an echo task in the group. */
static void *echo_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    cora_group g;
    cora_group_init(&g);
    int c;
    while ((c = cora_accept(lfd, NULL, NULL)) >= 0)
        if (cora_group_spawn(&g, echo_conn, (void *)(intptr_t)c, NULL) < 0) close(c);
    cora_group_cancel(&g);
    cora_group_wait(&g);
    cora_group_destroy(&g);
    return NULL;
}

static void *main_tcp_echo(void *arg)
{
    const char *host = arg;
    int lfd = cora_tcp_listen(host, 0, NULL);
    assert_true(lfd >= 0);
    int port = cora_socket_port(lfd);
    assert_true(port > 0);
    cora_task *srv = cora_spawn(echo_server, (void *)(intptr_t)lfd);
    int fd = cora_tcp_connect(host, port);
    assert_true(fd >= 0);
    assert_int_equal(cora_tcp_nodelay(fd, 1), 0);
    assert_int_equal(cora_tcp_keepalive(fd, 1, 30), 0);
    for (int i = 0; i < 100; i++) {
        char msg[64], back[64];
        int n = snprintf(msg, sizeof msg, "message %d", i);
        assert_int_equal(cora_send_all(fd, msg, (size_t)n, NULL), n);
        size_t got = 0;
        while (got < (size_t)n) {
            ssize_t r = cora_recv(fd, back + got, sizeof back - got, 0);
            assert_true(r > 0);
            got += (size_t)r;
        }
        assert_memory_equal(back, msg, (size_t)n);
    }
    /* Half-close: the server sees the end, finishes, closes; we read the end. */
    assert_int_equal(cora_shutdown(fd, SHUT_WR), 0);
    char c;
    assert_int_equal(cora_recv(fd, &c, 1, 0), 0);
    close(fd);
    cora_cancel(srv);
    assert_int_equal(cora_await(srv, NULL), -ECANCELED);
    close(lfd);
    return NULL;
}

static void tcp_echo_ipv4(void **state)
{
    run_ok(main_tcp_echo, "127.0.0.1");
}

static void tcp_echo_ipv6(void **state)
{
    run_ok(main_tcp_echo, "::1");
}

static void tcp_echo_by_name(void **state)
{
    run_ok(main_tcp_echo, "localhost");
}

static void *main_errors(void *arg)
{
    /* A port nobody listens on: bind one, learn its number, close it. */
    int probe = cora_tcp_listen("127.0.0.1", 0, NULL);
    int port = cora_socket_port(probe);
    close(probe);
    assert_int_equal(cora_tcp_connect("127.0.0.1", port), -ECONNREFUSED);
    assert_int_equal(cora_tcp_connect("127.0.0.1", 70000), -EINVAL);
    int a = cora_tcp_listen("127.0.0.1", 0, NULL);
    cora_listen_opts o = {.backlog = 8};
    assert_int_equal(cora_tcp_listen("127.0.0.1", cora_socket_port(a), &o), -EADDRINUSE);
    close(a);
    struct addrinfo *res;
    assert_int_equal(cora_getaddrinfo("localhost", "80", NULL, &res), 0);
    assert_non_null(res);
    freeaddrinfo(res);
    assert_int_equal(cora_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST};
    assert_int_equal(cora_getaddrinfo("not-an-address", NULL, &hints, &res), -ENOENT);
    assert_int_equal(cora_accept(-1, NULL, NULL), -EBADF);
    return NULL;
}

static void connect_and_listen_errors(void **state)
{
    run_ok(main_errors, NULL);
}

/* ---- cancellation --------------------------------------------------------------- */

static void *accept_one(void *arg)
{
    int r = cora_accept((int)(intptr_t)arg, NULL, NULL);
    if (r >= 0) close(r);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *connect_to(void *arg)
{
    int r = cora_tcp_connect("127.0.0.1", (int)(intptr_t)arg);
    if (r >= 0) close(r);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_cancel(void *arg)
{
    int lfd = cora_tcp_listen("127.0.0.1", 0, &(cora_listen_opts){.backlog = 1});
    int port = cora_socket_port(lfd);
    /* accept, pending. */
    cora_task *t = cora_spawn(accept_one, (void *)(intptr_t)lfd);
    assert_int_equal(cora_sleep(0.002), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    /* connect, pending: with the accept queue full, the kernel drops the SYN and
     * the connect waits (on loopback, nothing leaves the machine). */
    int fill[4], nfill = 0;
    for (; nfill < 4; nfill++) {
        cora_scope s;
        cora_fail_after(&s, 0.05);
        fill[nfill] = cora_tcp_connect("127.0.0.1", port);
        cora_scope_exit(&s);
        if (fill[nfill] < 0) break; /* the queue is full: this one timed out */
    }
    assert_true(nfill < 4);
    assert_int_equal(fill[nfill], -ETIMEDOUT); /* a deadline around connect */
    t = cora_spawn(connect_to, (void *)(intptr_t)port);
    assert_int_equal(cora_sleep(0.002), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    for (int i = 0; i < nfill; i++) close(fill[i]);
    close(lfd);
    return NULL;
}

static void cancel_accept_and_connect(void **state)
{
    run_ok(main_cancel, NULL); /* the harness checks that no fd was left behind */
}

struct receiver {
    int fd;
    char buf[8];
    ssize_t got;
};

static void *recv_some(void *arg)
{
    struct receiver *r = arg;
    r->got = cora_recv(r->fd, r->buf, sizeof r->buf, 0);
    return NULL;
}

static void *main_cancel_recv(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    struct receiver r = {.fd = sp[0]};
    cora_task *t = cora_spawn(recv_some, &r);
    assert_int_equal(cora_sleep(0.002), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(r.got, -ECANCELED);
    assert_int_equal(cora_send(sp[1], "data", 4, 0), 4);
    char buf[8];
    assert_int_equal(cora_recv(sp[0], buf, sizeof buf, 0), 4); /* nothing was lost */
    close(sp[0]);
    close(sp[1]);
    return NULL;
}

static void cancel_recv_loses_nothing(void **state)
{
    run_ok(main_cancel_recv, NULL);
}

/* ---- a peer that vanishes mid-write --------------------------------------------- */

static void *close_after_a_bit(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int c = cora_accept(lfd, NULL, NULL);
    char buf[1000];
    cora_recv(c, buf, sizeof buf, 0);
    close(c); /* gone, with unread data: the writer gets RST */
    return NULL;
}

static void *main_vanish(void *arg)
{
    int lfd = cora_tcp_listen("127.0.0.1", 0, NULL);
    cora_task *peer = cora_spawn(close_after_a_bit, (void *)(intptr_t)lfd);
    int fd = cora_tcp_connect("127.0.0.1", cora_socket_port(lfd));
    static char big[1 << 20];
    size_t sent = 0;
    ssize_t r = 0;
    for (int i = 0; i < 64 && r >= 0; i++) r = cora_send_all(fd, big, sizeof big, &sent);
    assert_true(r == -EPIPE || r == -ECONNRESET); /* an error, never a SIGPIPE death */
    assert_true(sent < sizeof big);
    assert_int_equal(cora_await(peer, NULL), 0);
    close(fd);
    close(lfd);
    return NULL;
}

static void peer_vanishes_mid_write(void **state)
{
    run_ok(main_vanish, NULL);
}

/* ---- UDP, Unix, pairs ----------------------------------------------------------- */

static void *main_udp(void *arg)
{
    int a = cora_udp_bind("127.0.0.1", 0), b = cora_udp_bind("127.0.0.1", 0);
    assert_true(a >= 0 && b >= 0);
    struct sockaddr_storage to;
    int tolen = cora_addr("127.0.0.1", cora_socket_port(b), &to);
    assert_true(tolen > 0);
    assert_int_equal(cora_sendto(a, "ping", 4, (struct sockaddr *)&to, (socklen_t)tolen), 4);
    char buf[16];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    assert_int_equal(cora_recvfrom(b, buf, sizeof buf, &from, &fromlen), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(ntohs(((struct sockaddr_in *)&from)->sin_port), cora_socket_port(a));
    assert_int_equal(cora_sendto(b, "pong", 4, (struct sockaddr *)&from, fromlen), 4);
    assert_int_equal(cora_recvfrom(a, buf, sizeof buf, NULL, NULL), 4);
    assert_memory_equal(buf, "pong", 4);
    assert_int_equal(cora_udp_socket(AF_UNIX), -EAFNOSUPPORT);
    int u6 = cora_udp_socket(AF_INET6);
    assert_true(u6 >= 0);
    close(u6);
    close(a);
    close(b);
    return NULL;
}

static void udp_send_and_receive(void **state)
{
    run_ok(main_udp, NULL);
}

static void *unix_echo_once(void *arg)
{
    int c = cora_accept((int)(intptr_t)arg, NULL, NULL);
    char buf[16];
    ssize_t n = cora_recv(c, buf, sizeof buf, 0);
    cora_send(c, buf, (size_t)n, 0);
    close(c);
    return NULL;
}

static void *main_unix(void *arg)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/cora-test-%d.sock", (int)getpid());
    int lfd = cora_unix_listen(path, 0);
    assert_true(lfd >= 0);
    cora_task *t = cora_spawn(unix_echo_once, (void *)(intptr_t)lfd);
    int fd = cora_unix_connect(path);
    assert_true(fd >= 0);
    assert_int_equal(cora_send(fd, "unix", 4, 0), 4);
    char buf[16];
    assert_int_equal(cora_recv(fd, buf, sizeof buf, 0), 4);
    assert_int_equal(cora_await(t, NULL), 0);
    close(fd);
    assert_int_equal(cora_unix_listen(path, 0), -EADDRINUSE); /* someone listens */
    close(lfd);
    int again = cora_unix_listen(path, 0); /* a stale file is replaced */
    assert_true(again >= 0);
    close(again);
    unlink(path);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    assert_int_equal(cora_unix_connect(longpath), -ENAMETOOLONG);
    /* Datagrams and pairs. */
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_DGRAM, sp), 0);
    assert_int_equal(cora_send(sp[0], "d1", 2, 0), 2);
    assert_int_equal(cora_recv(sp[1], buf, sizeof buf, 0), 2);
    close(sp[0]);
    close(sp[1]);
    assert_int_equal(cora_socketpair(12345, sp), -EINVAL);
    int d = cora_unix_dgram(NULL);
    assert_true(d >= 0);
    close(d);
    return NULL;
}

static void unix_sockets_and_pairs(void **state)
{
    run_ok(main_unix, NULL);
}

/* ---- ten thousand connections at once ------------------------------------------- */

enum { CONNS = 10000 };

struct client_state {
    int port, ok;
    cora_barrier all_connected;
};

static void *client(void *arg)
{
    struct client_state *s = arg;
    int fd = cora_tcp_connect("127.0.0.1", s->port);
    if (fd < 0) return cora_fail(fd);
    /* Everyone connected before anyone talks: the server holds them all at once. */
    int r = cora_barrier_wait(&s->all_connected);
    char msg[64], back[64];
    memset(msg, 'a' + fd % 26, sizeof msg);
    if (r >= 0) r = (int)cora_send_all(fd, msg, sizeof msg, NULL);
    size_t got = 0;
    while (r >= 0 && got < sizeof back) {
        ssize_t n = cora_recv(fd, back + got, sizeof back - got, 0);
        r = n > 0 ? 0 : n == 0 ? -EPIPE : (int)n;
        if (n > 0) got += (size_t)n;
    }
    close(fd);
    if (r < 0) return cora_fail(r);
    if (memcmp(msg, back, sizeof msg) != 0) return cora_fail(-EBADMSG);
    s->ok++;
    return NULL;
}

static void *clients_main(void *arg)
{
    struct client_state *s = arg;
    cora_barrier_init(&s->all_connected, CONNS);
    cora_group g;
    cora_group_init(&g);
    for (int i = 0; i < CONNS; i++) cora_group_spawn(&g, client, s, NULL);
    int r = cora_group_wait(&g);
    cora_group_destroy(&g);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_10k(void *arg)
{
    int lfd = cora_tcp_listen("127.0.0.1", 0, NULL);
    assert_true(lfd >= 0);
    int port = cora_socket_port(lfd);
    /* The clients are another process: 10,000 connections are 20,000 fds in all, and
     * the open-file limit here is 20,000 per process. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(lfd);
        struct client_state s = {.port = port};
        int r = cora_run(clients_main, &s, NULL);
        if (r < 0) fprintf(stderr, "clients: %s, %d ok\n", cora_err_name(r), s.ok);
        _exit(r == 0 && s.ok == CONNS ? 0 : 1);
    }
    cora_task *srv = cora_spawn(echo_server, (void *)(intptr_t)lfd);
    int status;
    /* Wait for the client process without blocking the loop: poll its exit. */
    while (waitpid(pid, &status, WNOHANG) == 0) assert_int_equal(cora_sleep(0.01), 0);
    cora_cancel(srv);
    cora_await(srv, NULL);
    close(lfd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return NULL;
}

static void ten_thousand_connections(void **state)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max; /* the whole allowance */
    setrlimit(RLIMIT_NOFILE, &rl);
    run_ok(main_10k, NULL);
}

/* ---- out of file descriptors in accept ------------------------------------------ */

static void *accept_all(void *arg)
{
    int *a = arg; /* a[0] listener, a[1] accepted count */
    int c;
    while ((c = cora_accept(a[0], NULL, NULL)) >= 0) {
        a[1]++;
        close(c); /* frees the fd at once: the next accept can succeed */
    }
    return NULL;
}

static void *main_emfile(void *arg)
{
    int lfd = cora_tcp_listen("127.0.0.1", 0, NULL);
    int port = cora_socket_port(lfd);
    /* Use up every fd (the child's limit is 64), so accept runs out. */
    int hog[4096], nhog = 0;
    while (nhog < 4096 && (hog[nhog] = dup(0)) >= 0) nhog++;
    assert_true(nhog < 4096); /* the limit was reached */
    /* Free two: one for the client's socket, none left for accept. */
    close(hog[--nhog]);
    int a[2] = {lfd, 0};
    cora_task *t = cora_spawn(accept_all, a);
    int c = cora_tcp_connect("127.0.0.1", port); /* takes the last fd; queued in backlog */
    assert_true(c >= 0);
    assert_int_equal(cora_sleep(0.05), 0); /* accept fails with EMFILE and backs off */
    assert_int_equal(a[1], 0);
    close(hog[--nhog]); /* room again: the backed-off accept gets it */
    for (int i = 0; i < 200 && a[1] == 0; i++) cora_sleep(0.01);
    assert_int_equal(a[1], 1);
    cora_cancel(t);
    cora_await(t, NULL);
    close(c);
    while (nhog > 0) close(hog[--nhog]);
    close(lfd);
    return NULL;
}

static void accept_backs_off_on_emfile(void **state)
{
    /* In a child with a small fd limit, so the harness's own fds are not squeezed. */
    fflush(stderr);
    int errpipe[2];
    assert_int_equal(pipe(errpipe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(errpipe[0]);
        dup2(errpipe[1], 2);
        struct rlimit rl = {64, 64};
        setrlimit(RLIMIT_NOFILE, &rl);
        int r = cora_run(main_emfile, NULL, NULL);
        _exit(r == 0 ? 0 : 1);
    }
    close(errpipe[1]);
    char out[2048] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof out - 1 && (n = read(errpipe[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    close(errpipe[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Said once, not once per retry. */
    char *first = strstr(out, "EMFILE");
    assert_non_null(first);
    assert_null(strstr(first + 1, "EMFILE"));
}

/* A deadline around a connect into a black hole (tests/black_hole.h: the SYN is
 * dropped, the connect neither succeeds nor fails), on both families: -ETIMEDOUT, the
 * socket closed and the kernel's half-open connect gone. */
static void *main_connect_deadline(void *arg)
{
    static const char *const hosts[2] = {"127.0.0.1", "::1"};
    for (int i = 0; i < 2; i++) {
        black_hole bh;
        assert_int_equal(black_hole_open(&bh, hosts[i], 0), 0);
        cora_scope s;
        assert_int_equal(cora_fail_after(&s, 0.2), 0);
        assert_int_equal(cora_tcp_connect(hosts[i], bh.port), -ETIMEDOUT);
        assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
        assert_int_equal(syn_sent_to(bh.port), 0);
        black_hole_close(&bh);
    }
    return NULL;
}

static void connect_deadline_in_a_black_hole(void **state)
{
    run_ok(main_connect_deadline, NULL); /* the harness checks that no fd was left */
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(tcp_echo_ipv4),
    CORA_TEST(tcp_echo_ipv6),
    CORA_TEST(tcp_echo_by_name),
    CORA_TEST(connect_and_listen_errors),
    CORA_TEST(cancel_accept_and_connect),
    CORA_TEST(cancel_recv_loses_nothing),
    CORA_TEST(peer_vanishes_mid_write),
    CORA_TEST(udp_send_and_receive),
    CORA_TEST(unix_sockets_and_pairs),
    CORA_TEST(ten_thousand_connections),
    CORA_TEST(accept_backs_off_on_emfile),
    CORA_TEST(connect_deadline_in_a_black_hole),
};

CORA_TEST_MAIN("net", tests)
