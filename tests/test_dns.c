/* tests/test_dns.c: name lookups in the loop (c-ares) against a small DNS server
 * run by the test itself on 127.0.0.1 (CORA_DNS_SERVERS points there, so no query
 * leaves the machine), and Happy Eyeballs connects by name. Runs once per backend. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* ---- a tiny DNS server: A 127.0.0.1 for every name, NXDOMAIN for "missing.test",
 * or silence -------------------------------------------------------------------- */

struct dnsd {
    int fd;
    int silent; /* swallow queries: the client must time out or be cancelled */
    int queries;
};

static void *dns_server(void *arg)
{
    struct dnsd *d = arg;
    unsigned char buf[512], out[600];
    struct sockaddr_storage from;
    socklen_t fromlen;
    for (;;) {
        fromlen = sizeof from;
        ssize_t n = cora_recvfrom(d->fd, buf, sizeof buf, &from, &fromlen);
        if (n < 0) return NULL; /* cancelled: the test is over */
        if (n < 12) continue;
        d->queries++;
        if (d->silent) continue;
        size_t q = 12;
        while (q < (size_t)n && buf[q]) q += buf[q] + 1u; /* the name's labels */
        if (q + 5 > (size_t)n) continue;
        unsigned qtype = (unsigned)buf[q + 1] << 8 | buf[q + 2];
        size_t qend = q + 5;
        int missing = memmem(buf + 12, q - 12, "\x07missing\x04test", 13) != NULL;
        memcpy(out, buf, qend);
        out[2] = 0x81;                     /* a response; recursion desired */
        out[3] = missing ? 0x83 : 0x80;    /* recursion available; NXDOMAIN or NOERROR */
        memset(out + 4, 0, 8);
        out[5] = 1;                        /* one question */
        size_t len = qend;
        if (!missing && qtype == 1) {      /* A: one answer, 127.0.0.1 */
            out[7] = 1;
            static const unsigned char a[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
            memcpy(out + len, a, sizeof a);
            len += sizeof a;
        }
        cora_sendto(d->fd, out, len, (struct sockaddr *)&from, fromlen);
    }
}

static cora_task *start_dnsd(struct dnsd *d)
{
    d->fd = cora_udp_bind("127.0.0.1", 0);
    assert_true(d->fd >= 0);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", cora_socket_port(d->fd));
    setenv("CORA_DNS_SERVERS", servers, 1); /* read when the loop's resolver starts */
    return cora_spawn(dns_server, d);
}

static void stop_dnsd(struct dnsd *d, cora_task *t)
{
    cora_cancel(t);
    cora_await(t, NULL);
    close(d->fd);
    unsetenv("CORA_DNS_SERVERS");
}

static void *main_resolve(void *arg)
{
    struct dnsd d = {0};
    cora_task *srv = start_dnsd(&d);
    struct sockaddr_storage addrs[4];
    int n = cora_resolve("example.test", 8080, AF_UNSPEC, addrs, 4);
    assert_int_equal(n, 1);
    struct sockaddr_in *in = (struct sockaddr_in *)&addrs[0];
    assert_int_equal(in->sin_family, AF_INET);
    assert_int_equal(ntohs(in->sin_port), 8080);
    assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);
    assert_true(d.queries >= 1);
    assert_int_equal(cora_resolve("missing.test", 80, AF_UNSPEC, addrs, 4), -ENOENT);
    assert_int_equal(cora_resolve("example.test", 80, AF_INET6, addrs, 4), -ENOENT); /* no AAAA */
    /* Numbers and localhost need no query. */
    int before = d.queries;
    assert_int_equal(cora_resolve("127.0.0.1", 1, AF_UNSPEC, addrs, 4), 1);
    assert_int_equal(cora_resolve("localhost", 1, AF_UNSPEC, addrs, 4), 1);
    assert_int_equal(cora_resolve("[::1]", 1, AF_UNSPEC, addrs, 4), 1);
    assert_int_equal(d.queries, before);
    assert_int_equal(cora_resolve("", 1, AF_UNSPEC, addrs, 4), -EINVAL);
    assert_int_equal(cora_resolve("x.test", 1, 12345, addrs, 4), -EINVAL);
    stop_dnsd(&d, srv);
    return NULL;
}

static void resolve_in_the_loop(void **state)
{
    run_ok(main_resolve, NULL);
}

static void *accept_one(void *arg)
{
    int c = cora_accept((int)(intptr_t)arg, NULL, NULL);
    if (c >= 0) close(c);
    return c < 0 ? cora_fail(c) : NULL;
}

static void *main_connect_by_name(void *arg)
{
    struct dnsd d = {0};
    cora_task *srv = start_dnsd(&d);
    int lfd = cora_tcp_listen("127.0.0.1", 0, NULL);
    cora_task *acc = cora_spawn(accept_one, (void *)(intptr_t)lfd);
    int fd = cora_tcp_connect("example.test", cora_socket_port(lfd));
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cora_await(acc, NULL), 0);
    assert_int_equal(cora_tcp_connect("missing.test", 80), -ENOENT);
    close(lfd);
    stop_dnsd(&d, srv);
    return NULL;
}

static void happy_eyeballs_by_name(void **state)
{
    run_ok(main_connect_by_name, NULL);
}

static void *lookup(void *arg)
{
    struct sockaddr_storage addrs[2];
    int r = cora_resolve("slow.test", 80, AF_UNSPEC, addrs, 2);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_cancel(void *arg)
{
    struct dnsd d = {.silent = 1};
    cora_task *srv = start_dnsd(&d);
    /* A lookup nobody answers: cancelled while pending, it leaves nothing behind (the
     * harness and LeakSanitizer check). */
    cora_task *t = cora_spawn(lookup, NULL);
    assert_int_equal(cora_sleep(0.02), 0);
    assert_true(d.queries >= 1);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    /* The same under a deadline. */
    cora_scope s;
    cora_fail_after(&s, 0.05);
    struct sockaddr_storage addrs[2];
    assert_int_equal(cora_resolve("slow.test", 80, AF_UNSPEC, addrs, 2), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    stop_dnsd(&d, srv);
    return NULL;
}

static void cancel_pending_lookup(void **state)
{
    run_ok(main_cancel, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(resolve_in_the_loop),
    CORA_TEST(happy_eyeballs_by_name),
    CORA_TEST(cancel_pending_lookup),
};

CORA_TEST_MAIN("dns", tests)
