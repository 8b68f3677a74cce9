/* src/net/dns.c: name lookups with c-ares, inside the loop.
 *
 * One c-ares channel per loop, made on first use (it reads /etc/resolv.conf and
 * /etc/hosts, as the system resolver does). A lookup starts a query and then pumps
 * the channel itself: it waits on the channel's sockets (cora__poll_many) with the
 * channel's own timeout, and lets c-ares process whatever arrives. Several lookups
 * share the channel; whichever task reads an answer runs the callbacks, and each
 * lookup stops when its own callback has run. No thread per lookup.
 *
 * The query state lives on the heap: a lookup cancelled while its query is in
 * flight marks it abandoned, and the callback frees it when c-ares is done with it
 * (at the latest when the channel is destroyed with the loop).
 */
#include "../io/backend.h"
#include "cora/io.h"
#include "cora/net.h"
#include "internal.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct cora__dns {
    ares_channel channel;
    bool hosts_first; /* the channel reads the hosts file before asking servers */
};

typedef struct query {
    bool done, abandoned;
    int status;
    struct ares_addrinfo *res;
} query;

static void dns_close(cora_loop *loop)
{
    cora__dns *d = loop->dns;
    if (!d) return;
    ares_destroy(d->channel); /* abandoned queries' callbacks run and free them */
    free(d);
    loop->dns = NULL;
}

static int status_errno(int status)
{
    switch (status) {
    case ARES_SUCCESS: return 0;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME: return -ENOENT;
    case ARES_ETIMEOUT: return -ETIMEDOUT;
    case ARES_ECONNREFUSED: return -ECONNREFUSED;
    case ARES_ENOMEM: return -ENOMEM;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return -ECANCELED;
    case ARES_EFORMERR:
    case ARES_EBADNAME:
    case ARES_EBADFAMILY: return -EINVAL;
    default: return -EIO;
    }
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
}

static int channel_of(cora_loop *loop, ares_channel *out)
{
    if (!loop->dns) {
        /* c-ares wants its library set up once per process, and not concurrently. */
        pthread_once(&library_once, library_init);
        cora__dns *d = cora__calloc(1, sizeof *d);
        if (!d) return -ENOMEM;
        int st = ares_init(&d->channel);
        if (st != ARES_SUCCESS) {
            free(d);
            return status_errno(st);
        }
        /* CORA_DNS_SERVERS="127.0.0.1:5353,..." replaces resolv.conf's servers (tests
         * point it at a local server; operators at a resolver of their choice). */
        const char *servers = getenv("CORA_DNS_SERVERS");
        if (servers && *servers && ares_set_servers_ports_csv(d->channel, servers) != ARES_SUCCESS) {
            ares_destroy(d->channel);
            free(d);
            return -EINVAL;
        }
        /* c-ares's lookup order ("fb" unless resolv.conf or nsswitch.conf says
         * otherwise): cora__resolve_hosts answers from the file only when the channel
         * would have consulted it first. */
        struct ares_options o;
        int mask;
        d->hosts_first = true;
        if (ares_save_options(d->channel, &o, &mask) == ARES_SUCCESS) {
            d->hosts_first = !(mask & ARES_OPT_LOOKUPS) || !o.lookups || o.lookups[0] == 'f';
            ares_destroy_options(&o);
        }
        loop->dns = d;
        loop->dns_close = dns_close;
    }
    *out = loop->dns->channel;
    return 0;
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    query *q = arg;
    (void)timeouts;
    if (q->abandoned) { /* its task is gone: clean up here */
        if (res) ares_freeaddrinfo(res);
        free(q);
        return;
    }
    q->status = status;
    q->res = res;
    q->done = true;
}

/* Runs the channel until q is answered. */
static int pump(ares_channel ch, query *q)
{
    while (!q->done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        int fds[ARES_GETSOCK_MAXNUM];
        unsigned ev[ARES_GETSOCK_MAXNUM], rev[ARES_GETSOCK_MAXNUM];
        int n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            /* c-ares's own ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit
             * for the last socket (undefined behaviour, which UBSan flags): the same
             * test on unsigned bits. */
            unsigned ubits = (unsigned)bits;
            unsigned e = (ubits & (1u << i) ? CORA_READABLE : 0) |
                         (ubits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? CORA_WRITABLE : 0);
            if (!e) continue;
            fds[n] = socks[i];
            ev[n++] = e;
        }
        struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
        int r = 0;
        if (n) {
            cora_scope s;
            if (tvp && (r = cora_move_on_after(&s, (double)tv.tv_sec + tv.tv_usec / 1e6)) < 0)
                return r;
            r = cora__poll_many(n, fds, ev, rev);
            if (tvp) {
                cora_scope_exit(&s);
                if (r == -ETIMEDOUT && cora_scope_cause(&s) == -ETIMEDOUT) r = 0; /* ours */
            }
        } else if (tvp) {
            r = cora_sleep((double)tv.tv_sec + tv.tv_usec / 1e6);
        } else if (!q->done) {
            return -EIO; /* nothing to wait for and no answer: c-ares gave up silently */
        }
        if (r < 0) return r;
        if (r == 0) { /* a timeout: let c-ares retry or give up */
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (rev[i])
                ares_process_fd(ch, rev[i] & (CORA_READABLE | CORA_HANGUP | CORA_ERRORED)
                                        ? fds[i] : ARES_SOCKET_BAD,
                                rev[i] & CORA_WRITABLE ? fds[i] : ARES_SOCKET_BAD);
    }
    return 0;
}

int cora_resolve(const char *host, int port, int family, struct sockaddr_storage *addrs, int max)
{
    if (!host || !*host || !addrs || max < 1 || port < 0 || port > 65535) return -EINVAL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return -EINVAL;
    cora_loop *loop = cora__loop();
    if (!loop || !loop->current) return -EPERM;
    /* Numeric addresses and "localhost" need no lookup. */
    int len = cora_addr(host, port, &addrs[0]);
    if (len > 0) return family == AF_UNSPEC || addrs[0].ss_family == family ? 1 : -ENOENT;
    int c = cora__checkpoint();
    if (c) return c;
    ares_channel ch = NULL;
    int r = channel_of(loop, &ch);
    if (r < 0) return r;
    query *q = cora__calloc(1, sizeof *q);
    if (!q) return -ENOMEM;
    struct ares_addrinfo_hints hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    ares_getaddrinfo(ch, host, NULL, &hints, on_result, q);
    r = pump(ch, q);
    if (r < 0) {
        if (!q->done) {
            q->abandoned = true; /* c-ares still holds it; its callback frees it */
            return r;
        }
        r = 0; /* answered in the same breath: the answer wins */
    }
    r = status_errno(q->status);
    int count = 0;
    if (r == 0) {
        for (struct ares_addrinfo_node *a = q->res ? q->res->nodes : NULL; a && count < max;
             a = a->ai_next) {
            if ((size_t)a->ai_addrlen > sizeof addrs[count]) continue;
            memset(&addrs[count], 0, sizeof addrs[count]);
            memcpy(&addrs[count], a->ai_addr, (size_t)a->ai_addrlen);
            if (a->ai_family == AF_INET)
                ((struct sockaddr_in *)&addrs[count])->sin_port = htons((uint16_t)port);
            else if (a->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)&addrs[count])->sin6_port = htons((uint16_t)port);
            else
                continue;
            count++;
        }
        if (count == 0) r = -ENOENT;
    }
    if (q->res) ares_freeaddrinfo(q->res);
    free(q);
    return r < 0 ? r : count;
}

/* Fills addrs[i] (zeroed first) from a raw address of `family` and sets the port. */
static void put_addr(struct sockaddr_storage *ss, int family, const void *raw, int port)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        memcpy(&v4->sin_addr, raw, sizeof v4->sin_addr);
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        memcpy(&v6->sin6_addr, raw, sizeof v6->sin6_addr);
    }
}

int cora__resolve_hosts(const char *host, int port, struct sockaddr_storage *addrs, int max)
{
    cora_loop *loop = cora__loop();
    if (!loop || !host || max < 1) return -EINVAL;
    ares_channel ch = NULL;
    int r = channel_of(loop, &ch);
    if (r < 0) return r;
    if (!loop->dns->hosts_first) return 0;
    /* One family at a time: ares_gethostbyname_file with AF_UNSPEC gives only the
     * first family it finds, and a name listed for IPv4 alone must not then be asked
     * of a server for IPv6 (the system resolver stops at the file too). */
    static const int families[2] = {AF_INET6, AF_INET};
    int count = 0;
    for (int f = 0; f < 2 && count < max; f++) {
        struct hostent *h = NULL;
        int st = ares_gethostbyname_file(ch, host, families[f], &h);
        if (st == ARES_ENOMEM) return -ENOMEM;
        if (st != ARES_SUCCESS || !h) continue; /* not listed (or no file): ask servers */
        int len = families[f] == AF_INET ? 4 : 16;
        for (char **a = h->h_addr_list; a && *a && count < max; a++)
            if (h->h_addrtype == families[f] && h->h_length == len)
                put_addr(&addrs[count++], families[f], *a, port);
        ares_free_hostent(h);
    }
    return count;
}
