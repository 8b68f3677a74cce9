/* tests/test_dns.c: name lookups in the loop (c-ares) against a small DNS server
 * run by the test itself on 127.0.0.1 (CORA_DNS_SERVERS points there, so no query
 * leaves the machine), and Happy Eyeballs connects by name: starting on the first
 * answer, the Resolution Delay, late answers joining, fallback, black-holed addresses
 * (tests/black_hole.h), the hosts file, cancellation at each stage. Runs once per
 * backend. */
#include "harness.h"
#include "black_hole.h"
#include "../src/net/internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* ---- a tiny DNS server ------------------------------------------------------------
 *
 * A task on the test's own loop. Every name has A 127.0.0.1 (and AAAA ::1 when
 * with_aaaa is set, else NOERROR with no AAAA answer), except "missing.test"
 * (NXDOMAIN). Each query type has a rule: answered at once, after `delay` seconds, or
 * never (delay < 0); and counts the queries it saw and the answers it sent, which the
 * tests read at the moment a connection is accepted to tell what the client could
 * have known then. `silent` swallows every query. */

typedef struct dns_rule {
    double delay;      /* 0: answer at once; > 0: that many seconds later; < 0: never */
    int queries, sent; /* queries of this type seen, answers sent */
} dns_rule;

#define HELD_MAX 8

struct dnsd;

typedef struct held { /* an answer waiting for its rule's delay */
    struct dnsd *d;
    dns_rule *rule;
    unsigned char pkt[600];
    size_t len;
    struct sockaddr_storage to;
    socklen_t tolen;
    int used;
} held;

struct dnsd {
    int fd;
    int silent; /* swallow queries: the client must time out or be cancelled */
    int with_aaaa;
    int queries;
    dns_rule a, aaaa;
    held later[HELD_MAX];
    cora_group held_back; /* the tasks that send held answers */
};

static void *send_later(void *arg)
{
    held *h = arg;
    if (cora_sleep(h->rule->delay) == 0 &&
        cora_sendto(h->d->fd, h->pkt, h->len, (struct sockaddr *)&h->to, h->tolen) >= 0)
        h->rule->sent++;
    h->used = 0;
    return NULL;
}

static void *dns_server(void *arg)
{
    struct dnsd *d = arg;
    unsigned char buf[512], out[600];
    struct sockaddr_storage from;
    socklen_t fromlen;
    for (;;) {
        fromlen = sizeof from;
        ssize_t n = cora_recvfrom(d->fd, buf, sizeof buf, &from, &fromlen);
        if (n < 0) break; /* cancelled: the test is over */
        if (n < 12) continue;
        d->queries++;
        size_t q = 12;
        while (q < (size_t)n && buf[q]) q += buf[q] + 1u; /* the name's labels */
        if (q + 5 > (size_t)n) continue;
        unsigned qtype = (unsigned)buf[q + 1] << 8 | buf[q + 2];
        size_t qend = q + 5;
        dns_rule *rule = qtype == 1 ? &d->a : qtype == 28 ? &d->aaaa : NULL;
        if (rule) rule->queries++;
        if (d->silent) continue;
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
        if (!missing && qtype == 28 && d->with_aaaa) { /* AAAA: one answer, ::1 */
            out[7] = 1;
            static const unsigned char a[] = {0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0, 0,
                                              0,    0,    0, 0,  0, 0, 0, 0, 0, 0,  0, 0,  0, 1};
            memcpy(out + len, a, sizeof a);
            len += sizeof a;
        }
        if (rule && rule->delay < 0) continue; /* never answered */
        if (rule && rule->delay > 0) {
            held *h = NULL;
            for (int i = 0; i < HELD_MAX && !h; i++)
                if (!d->later[i].used) h = &d->later[i];
            if (!h) continue; /* too many held: drop it, as a lossy network would */
            *h = (held){.d = d, .rule = rule, .len = len, .to = from, .tolen = fromlen, .used = 1};
            memcpy(h->pkt, out, len);
            if (cora_group_spawn(&d->held_back, send_later, h, NULL) < 0) h->used = 0;
            continue;
        }
        if (cora_sendto(d->fd, out, len, (struct sockaddr *)&from, fromlen) >= 0 && rule)
            rule->sent++;
    }
    cora_group_cancel(&d->held_back); /* answers still held are never sent */
    cora_group_wait(&d->held_back);
    cora_group_destroy(&d->held_back);
    return NULL;
}

static cora_task *start_dnsd(struct dnsd *d)
{
    d->fd = cora_udp_bind("127.0.0.1", 0);
    assert_true(d->fd >= 0);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", cora_socket_port(d->fd));
    setenv("CORA_DNS_SERVERS", servers, 1); /* read when the loop's resolver starts */
    assert_int_equal(cora_group_init(&d->held_back), 0);
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

/* ---- Happy Eyeballs from the first answer (RFC 8305) ------------------------------
 *
 * The server holds one answer back (10 s, or for ever) and the tests look at what it
 * had sent at the moment the connection was accepted: that is what the client could
 * have known when it connected. Deadlines around the connects only catch hangs; the
 * held answers come long after them. */

#define DEFAULT_DELAYS (-1)   /* connect_bounded: the public cora_tcp_connect */
#define LONG_NS 30000000000LL /* a delay no test waits out: 30 s */

/* What the DNS server had done, and what hung towards a port, when a listener
 * accepted its first connection. */
typedef struct watch {
    int lfd;
    struct dnsd *d;
    dns_rule a, aaaa; /* the server's counts at that moment */
    int syn_port;     /* when not 0: count the connects hanging towards it... */
    int syn_sent;     /* ...here */
} watch;

static void *accept_and_note(void *arg)
{
    watch *w = arg;
    int c = cora_accept(w->lfd, NULL, NULL);
    if (c < 0) return cora_fail(c);
    w->a = w->d->a;
    w->aaaa = w->d->aaaa;
    if (w->syn_port) w->syn_sent = syn_sent_to(w->syn_port);
    close(c);
    return NULL;
}

static int peer_family(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getpeername(fd, (struct sockaddr *)&ss, &len), 0);
    return ss.ss_family;
}

/* Connects to example.test:port, with RFC 8305's delays given in ns (or
 * DEFAULT_DELAYS), under a 5 s deadline that only catches a hang: it passing fails the
 * test. */
static int connect_bounded(int port, int64_t resolution_delay, int64_t attempt_delay)
{
    cora_scope s;
    assert_int_equal(cora_fail_after(&s, 5.0), 0);
    int fd = resolution_delay == DEFAULT_DELAYS
                 ? cora_tcp_connect("example.test", port)
                 : cora__tcp_connect_he("example.test", port, resolution_delay, attempt_delay);
    assert_int_equal(cora_scope_exit(&s), 0);
    return fd;
}

/* A TCP listener on 127.0.0.1 at the port of an IPv6 socket made by make6 (which
 * returns 0 or -EADDRINUSE), trying other ports while that one is taken on IPv4. */
typedef int (*make6_fn)(void *arg, int port);

static int listen4_beside(make6_fn make6, void *arg, int (*port_of)(void *arg),
                          void (*undo)(void *arg))
{
    for (int tries = 0; tries < 20; tries++) {
        assert_int_equal(make6(arg, 0), 0);
        int lfd = cora_tcp_listen("127.0.0.1", port_of(arg), NULL);
        if (lfd >= 0) return lfd;
        assert_int_equal(lfd, -EADDRINUSE);
        undo(arg);
    }
    fail_msg("no port free on both 127.0.0.1 and ::1");
    return -1;
}

static int make6_listen(void *arg, int port)
{
    int fd = cora_tcp_listen("::1", port, NULL);
    assert_true(fd >= 0);
    *(int *)arg = fd;
    return 0;
}

static int make6_bound(void *arg, int port) /* bound, not listening: connects are refused */
{
    struct sockaddr_storage ss;
    int len = cora_addr("::1", port, &ss);
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, (socklen_t)len), 0);
    *(int *)arg = fd;
    return 0;
}

static int fd_port(void *arg)
{
    return cora_socket_port(*(int *)arg);
}

static void fd_close(void *arg)
{
    close(*(int *)arg);
}

static int make6_black_hole(void *arg, int port)
{
    return black_hole_open(arg, "::1", port);
}

static int black_hole_port(void *arg)
{
    return ((black_hole *)arg)->port;
}

static void black_hole_undo(void *arg)
{
    black_hole_close(arg);
}

/* AAAA held back for 10 s, A at once: the connection is made over IPv4 after the
 * Resolution Delay, while the AAAA question is still unanswered (and not yet asked
 * again, which c-ares does only when its own timeout passes). Before this, the A
 * answer waited for the AAAA one. */
static void *main_aaaa_late(void *arg)
{
    struct dnsd d = {.with_aaaa = 1, .aaaa = {.delay = 10}};
    cora_task *srv = start_dnsd(&d);
    watch w = {.lfd = cora_tcp_listen("127.0.0.1", 0, NULL), .d = &d};
    assert_true(w.lfd >= 0);
    cora_task *acc = cora_spawn(accept_and_note, &w);
    int fd = connect_bounded(cora_socket_port(w.lfd), DEFAULT_DELAYS, 0);
    assert_true(fd >= 0);
    assert_int_equal(peer_family(fd), AF_INET);
    close(fd);
    assert_int_equal(cora_await(acc, NULL), 0);
    assert_int_equal(w.a.sent, 1);
    assert_int_equal(w.aaaa.queries, 1); /* asked with A, not after the connection */
    assert_int_equal(w.aaaa.sent, 0);    /* and unanswered when IPv4 connected */
    close(w.lfd);
    stop_dnsd(&d, srv);
    return NULL;
}

static void ipv4_starts_without_waiting_for_aaaa(void **state)
{
    run_ok(main_aaaa_late, NULL);
}

/* A held back for 10 s, AAAA (::1) at once: connected over IPv6 with A unanswered. */
static void *main_a_late(void *arg)
{
    struct dnsd d = {.with_aaaa = 1, .a = {.delay = 10}};
    cora_task *srv = start_dnsd(&d);
    watch w = {.lfd = cora_tcp_listen("::1", 0, NULL), .d = &d};
    assert_true(w.lfd >= 0);
    cora_task *acc = cora_spawn(accept_and_note, &w);
    int fd = connect_bounded(cora_socket_port(w.lfd), DEFAULT_DELAYS, 0);
    assert_true(fd >= 0);
    assert_int_equal(peer_family(fd), AF_INET6);
    close(fd);
    assert_int_equal(cora_await(acc, NULL), 0);
    assert_int_equal(w.aaaa.sent, 1);
    assert_int_equal(w.a.queries, 1);
    assert_int_equal(w.a.sent, 0);
    close(w.lfd);
    stop_dnsd(&d, srv);
    return NULL;
}

static void ipv6_starts_without_waiting_for_a(void **state)
{
    run_ok(main_a_late, NULL);
}

/* Both families listening on the same port; A at once, AAAA 0.2 s later, inside a
 * Resolution Delay of 30 s: IPv6 goes first, both families being known by then.
 * Without the delay, IPv4 would have started on the A answer and won at once; with a
 * Connection Attempt Delay of 30 s, no IPv4 attempt can start before IPv6 has won. */
static void *main_resolution_delay(void *arg)
{
    struct dnsd d = {.with_aaaa = 1, .aaaa = {.delay = 0.2}};
    cora_task *srv = start_dnsd(&d);
    watch w6 = {.d = &d}, w4 = {.d = &d};
    w4.lfd = listen4_beside(make6_listen, &w6.lfd, fd_port, fd_close);
    cora_task *acc6 = cora_spawn(accept_and_note, &w6);
    cora_task *acc4 = cora_spawn(accept_and_note, &w4);
    int fd = connect_bounded(cora_socket_port(w4.lfd), LONG_NS, LONG_NS);
    assert_true(fd >= 0);
    assert_int_equal(peer_family(fd), AF_INET6);
    close(fd);
    assert_int_equal(cora_await(acc6, NULL), 0);
    assert_int_equal(w6.a.sent, 1);
    assert_int_equal(w6.aaaa.sent, 1);
    cora_cancel(acc4); /* IPv4 never connected */
    assert_int_equal(cora_await(acc4, NULL), -ECANCELED);
    close(w4.lfd);
    close(w6.lfd);
    stop_dnsd(&d, srv);
    return NULL;
}

static void aaaa_within_resolution_delay_goes_first(void **state)
{
    run_ok(main_resolution_delay, NULL);
}

/* AAAA (::1, a black hole) at once, A 0.3 s later: the IPv6 attempt starts at once and
 * hangs; the late A answer joins the race and IPv4 connects while IPv6 still hangs. */
static void *main_late_a_joins(void *arg)
{
    struct dnsd d = {.with_aaaa = 1, .a = {.delay = 0.3}};
    cora_task *srv = start_dnsd(&d);
    black_hole bh;
    watch w4 = {.d = &d};
    w4.lfd = listen4_beside(make6_black_hole, &bh, black_hole_port, black_hole_undo);
    w4.syn_port = bh.port;
    cora_task *acc4 = cora_spawn(accept_and_note, &w4);
    int fd = connect_bounded(bh.port, DEFAULT_DELAYS, 0);
    assert_true(fd >= 0);
    assert_int_equal(peer_family(fd), AF_INET);
    assert_int_equal(cora_await(acc4, NULL), 0);
    assert_int_equal(w4.a.sent, 1);
    assert_int_equal(w4.syn_sent, 1);          /* IPv6 went first and was still hanging */
    assert_int_equal(syn_sent_to(bh.port), 0); /* and was stopped */
    close(fd);
    close(w4.lfd);
    black_hole_close(&bh);
    stop_dnsd(&d, srv);
    return NULL;
}

static void late_a_answer_joins_the_race(void **state)
{
    run_ok(main_late_a_joins, NULL);
}

/* A name the hosts file lists (every address of it loopback) is answered from the file,
 * both families at once: no DNS server is asked, not even for the family the file does
 * not list (the server here swallows every query, so asking it would hang or wait).
 * Skipped where the hosts file names no such host besides localhost. */
static int hosts_loopback_name(char *name, size_t size)
{
    FILE *f = fopen("/etc/hosts", "r");
    if (!f) return 0;
    char line[512], found[256] = "";
    while (!*found && fgets(line, sizeof line, f)) {
        char addr[64], cand[256];
        int off = 0;
        if (sscanf(line, " %63s%n", addr, &off) != 1 || addr[0] == '#') continue;
        if (strncmp(addr, "127.", 4) != 0 && strcmp(addr, "::1") != 0) continue;
        for (int n = 0; sscanf(line + off, " %255s%n", cand, &n) == 1 && cand[0] != '#'; off += n) {
            if (strcmp(cand, "localhost") == 0 || strchr(cand, ':')) continue;
            snprintf(found, sizeof found, "%s", cand);
            break;
        }
    }
    /* Every line naming it must be loopback, so the connect never leaves the machine. */
    rewind(f);
    while (*found && fgets(line, sizeof line, f)) {
        char addr[64], cand[256];
        int off = 0;
        if (sscanf(line, " %63s%n", addr, &off) != 1 || addr[0] == '#') continue;
        bool loop = strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
        for (int n = 0; sscanf(line + off, " %255s%n", cand, &n) == 1 && cand[0] != '#'; off += n)
            if (strcmp(cand, found) == 0 && !loop) found[0] = 0;
    }
    fclose(f);
    snprintf(name, size, "%s", found);
    return *found != 0;
}

static void *main_hosts(void *arg)
{
    const char *name = arg;
    struct dnsd d = {.silent = 1};
    cora_task *srv = start_dnsd(&d);
    int lfd = cora_tcp_listen(NULL, 0, NULL); /* every interface: any loopback address */
    assert_true(lfd >= 0);
    cora_task *acc = cora_spawn(accept_one, (void *)(intptr_t)lfd);
    cora_scope s;
    assert_int_equal(cora_fail_after(&s, 5.0), 0);
    int fd = cora_tcp_connect(name, cora_socket_port(lfd));
    assert_int_equal(cora_scope_exit(&s), 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cora_await(acc, NULL), 0);
    assert_int_equal(d.queries, 0);
    close(lfd);
    stop_dnsd(&d, srv);
    return NULL;
}

static void hosts_file_names_ask_no_server(void **state)
{
    char name[256];
    if (!hosts_loopback_name(name, sizeof name)) skip();
    run_ok(main_hosts, name);
}

/* Both answered, nothing listening on ::1 (the port is bound there, so the IPv6
 * attempt is refused): the IPv4 attempt starts as soon as that fails, long before a
 * Connection Attempt Delay of 30 s, and connects. */
static void *main_fallback(void *arg)
{
    struct dnsd d = {.with_aaaa = 1};
    cora_task *srv = start_dnsd(&d);
    int bound6;
    watch w4 = {.d = &d};
    w4.lfd = listen4_beside(make6_bound, &bound6, fd_port, fd_close);
    cora_task *acc4 = cora_spawn(accept_and_note, &w4);
    int fd = connect_bounded(cora_socket_port(w4.lfd), LONG_NS, LONG_NS);
    assert_true(fd >= 0);
    assert_int_equal(peer_family(fd), AF_INET);
    close(fd);
    assert_int_equal(cora_await(acc4, NULL), 0);
    assert_int_equal(w4.aaaa.sent, 1); /* IPv6 was on offer */
    close(w4.lfd);
    close(bound6);
    /* Every address refused: the error of the last attempt. */
    int bound4 = -1;
    for (int tries = 0; tries < 20 && bound4 < 0; tries++) {
        make6_bound(&bound6, 0);
        struct sockaddr_storage ss;
        int len = cora_addr("127.0.0.1", cora_socket_port(bound6), &ss);
        bound4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (bind(bound4, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
            close(bound4);
            close(bound6);
            bound4 = -1;
        }
    }
    assert_true(bound4 >= 0);
    assert_int_equal(cora_tcp_connect("example.test", cora_socket_port(bound4)), -ECONNREFUSED);
    close(bound4);
    close(bound6);
    stop_dnsd(&d, srv);
    return NULL;
}

static void falls_back_to_ipv4(void **state)
{
    run_ok(main_fallback, NULL);
}

/* Both answered, ::1 a black hole (its connect neither succeeds nor fails): the
 * Connection Attempt Delay (250 ms) starts IPv4 while the IPv6 attempt still hangs,
 * which the accept sees in SYN_SENT; the loser is stopped when IPv4 wins. */
static void *main_black_hole6(void *arg)
{
    struct dnsd d = {.with_aaaa = 1};
    cora_task *srv = start_dnsd(&d);
    black_hole bh;
    watch w4 = {.d = &d};
    w4.lfd = listen4_beside(make6_black_hole, &bh, black_hole_port, black_hole_undo);
    w4.syn_port = bh.port;
    cora_task *acc4 = cora_spawn(accept_and_note, &w4);
    int fd = connect_bounded(bh.port, DEFAULT_DELAYS, 0);
    assert_true(fd >= 0);
    assert_int_equal(peer_family(fd), AF_INET);
    assert_int_equal(cora_await(acc4, NULL), 0);
    assert_int_equal(w4.syn_sent, 1);          /* IPv6 went first and was still hanging */
    assert_int_equal(syn_sent_to(bh.port), 0); /* and was stopped */
    close(fd);
    close(w4.lfd);
    black_hole_close(&bh);
    stop_dnsd(&d, srv);
    return NULL;
}

static void attempt_delay_races_past_a_black_hole(void **state)
{
    run_ok(main_black_hole6, NULL);
}

/* ---- cancellation and deadlines mid-race ----------------------------------------- */

typedef struct connector {
    int port;
    int64_t resolution_delay; /* DEFAULT_DELAYS: cora_tcp_connect */
} connector;

static void *connect_task(void *arg)
{
    connector *c = arg;
    int fd = c->resolution_delay == DEFAULT_DELAYS
                 ? cora_tcp_connect("example.test", c->port)
                 : cora__tcp_connect_he("example.test", c->port, c->resolution_delay, LONG_NS);
    if (fd >= 0) close(fd);
    return fd < 0 ? cora_fail(fd) : NULL;
}

/* Polls (every 10 ms, for at most 5 s) until *counter reaches n; fails otherwise. */
static void wait_count(const int *counter, int n)
{
    for (int i = 0; *counter < n; i++) {
        if (i == 500) fail_msg("waited 5 s for a count of %d, have %d", n, *counter);
        assert_int_equal(cora_sleep(0.01), 0);
    }
}

static void wait_syn_sent(int port, int n)
{
    for (int i = 0; syn_sent_to(port) < n; i++) {
        if (i == 500) fail_msg("waited 5 s for %d connects to hang", n);
        assert_int_equal(cora_sleep(0.01), 0);
    }
}

/* Cancelled (or under a deadline) at each stage of the race, the connect returns
 * -ECANCELED (-ETIMEDOUT) and leaves nothing behind: no task, operation, fd or byte
 * (the harness and LeakSanitizer check), and no connect hanging in the kernel. Each
 * stage is its own case: the resolver reads CORA_DNS_SERVERS once per loop. */

/* Both questions asked, neither answered. */
static void *main_cancel_queries(void *arg)
{
    struct dnsd d = {.silent = 1};
    cora_task *srv = start_dnsd(&d);
    connector c = {.port = 9, .resolution_delay = DEFAULT_DELAYS};
    cora_task *t = cora_spawn(connect_task, &c);
    wait_count(&d.a.queries, 1);
    wait_count(&d.aaaa.queries, 1);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    cora_scope s;
    cora_fail_after(&s, 0.05);
    assert_int_equal(cora_tcp_connect("example.test", 9), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    stop_dnsd(&d, srv);
    return NULL;
}

static void cancel_while_both_queries_pending(void **state)
{
    run_ok(main_cancel_queries, NULL);
}

/* A answered, AAAA never, inside a Resolution Delay of 30 s. */
static void *main_cancel_resolution_delay(void *arg)
{
    struct dnsd d = {.with_aaaa = 1, .aaaa = {.delay = -1}};
    cora_task *srv = start_dnsd(&d);
    connector c = {.port = 9, .resolution_delay = LONG_NS};
    cora_task *t = cora_spawn(connect_task, &c);
    wait_count(&d.a.sent, 1);
    assert_int_equal(cora_sleep(0.05), 0); /* let the client read it */
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(d.aaaa.queries, 1);
    stop_dnsd(&d, srv);
    return NULL;
}

static void cancel_in_resolution_delay(void **state)
{
    run_ok(main_cancel_resolution_delay, NULL);
}

/* AAAA never answered, and the IPv4 attempt hanging in a black hole. */
static void *main_cancel_attempt_and_query(void *arg)
{
    struct dnsd d = {.with_aaaa = 1, .aaaa = {.delay = -1}};
    cora_task *srv = start_dnsd(&d);
    black_hole bh;
    assert_int_equal(black_hole_open(&bh, "127.0.0.1", 0), 0);
    connector c = {.port = bh.port, .resolution_delay = DEFAULT_DELAYS};
    cora_task *t = cora_spawn(connect_task, &c);
    wait_syn_sent(bh.port, 1);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(syn_sent_to(bh.port), 0);
    cora_scope s;
    cora_fail_after(&s, 0.3);
    assert_int_equal(cora_tcp_connect("example.test", bh.port), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    assert_int_equal(syn_sent_to(bh.port), 0);
    black_hole_close(&bh);
    stop_dnsd(&d, srv);
    return NULL;
}

static void cancel_with_attempt_and_query_pending(void **state)
{
    run_ok(main_cancel_attempt_and_query, NULL);
}

/* Both answered and both attempts hanging (IPv6 first, IPv4 250 ms later). */
static void *main_cancel_two_attempts(void *arg)
{
    struct dnsd d = {.with_aaaa = 1};
    cora_task *srv = start_dnsd(&d);
    black_hole bh6, bh4;
    for (int tries = 0;; tries++) {
        assert_true(tries < 20);
        assert_int_equal(black_hole_open(&bh6, "::1", 0), 0);
        if (black_hole_open(&bh4, "127.0.0.1", bh6.port) == 0) break;
        black_hole_close(&bh6);
    }
    connector c = {.port = bh6.port, .resolution_delay = DEFAULT_DELAYS};
    cora_task *t = cora_spawn(connect_task, &c);
    wait_syn_sent(bh6.port, 2);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(syn_sent_to(bh6.port), 0);
    black_hole_close(&bh4);
    black_hole_close(&bh6);
    stop_dnsd(&d, srv);
    return NULL;
}

static void cancel_with_two_attempts_hanging(void **state)
{
    run_ok(main_cancel_two_attempts, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(resolve_in_the_loop),
    CORA_TEST(happy_eyeballs_by_name),
    CORA_TEST(cancel_pending_lookup),
    CORA_TEST(ipv4_starts_without_waiting_for_aaaa),
    CORA_TEST(ipv6_starts_without_waiting_for_a),
    CORA_TEST(aaaa_within_resolution_delay_goes_first),
    CORA_TEST(late_a_answer_joins_the_race),
    CORA_TEST(hosts_file_names_ask_no_server),
    CORA_TEST(falls_back_to_ipv4),
    CORA_TEST(attempt_delay_races_past_a_black_hole),
    CORA_TEST(cancel_while_both_queries_pending),
    CORA_TEST(cancel_in_resolution_delay),
    CORA_TEST(cancel_with_attempt_and_query_pending),
    CORA_TEST(cancel_with_two_attempts_hanging),
};

CORA_TEST_MAIN("dns", tests)
