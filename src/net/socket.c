/* src/net/socket.c: sockets over the backend's socket operations.
 *
 * Each waiting call is one backend operation (accept, connect, send, recv, sendmsg,
 * recvmsg), so on io_uring the kernel does the work and on epoll cora does it when
 * the socket is ready. Sockets are plain non-blocking fds; nothing is kept per
 * socket, so there is nothing to leak but the fd itself, which every failing path
 * closes.
 */
#include "../io/backend.h"
#include "cora/net.h"
#include "cora/proc.h"
#include "cora/sync.h"
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- names ---------------------------------------------------------------------- */

int cora_addr(const char *host, int port, struct sockaddr_storage *out)
{
    if (!out || port < 0 || port > 65535) return -EINVAL;
    memset(out, 0, sizeof *out);
    if (!host || !*host) host = "::";
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, host + 1, n - 2); /* "[::1]" as URLs write it */
        buf[n - 2] = 0;
        host = buf;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return sizeof *v6;
    }
    return -EINVAL;
}

struct gai_job {
    char *host, *service;
    struct addrinfo hints;
    bool has_hints;
    int rc, err;
    struct addrinfo *res;
};

static void *gai_run(void *arg)
{
    struct gai_job *j = arg;
    j->rc = getaddrinfo(j->host, j->service, j->has_hints ? &j->hints : NULL, &j->res);
    j->err = errno;
    return j;
}

static void gai_free(struct gai_job *j)
{
    if (j->rc == 0 && j->res) freeaddrinfo(j->res);
    free(j->host);
    free(j->service);
    free(j);
}

/* An abandoned lookup (the task was cancelled): the job owns everything. */
static void gai_abandon(void *arg, void *result)
{
    (void)result;
    gai_free(arg);
}

static int gai_to_errno(int rc, int err)
{
    switch (rc) {
    case 0: return 0;
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
    case EAI_SERVICE: return -ENOENT;
    case EAI_AGAIN: return -EAGAIN;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return err ? -err : -EIO;
    default: return -EINVAL;
    }
}

int cora_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res)
{
    if (!res || (!host && !service)) return -EINVAL;
    *res = NULL;
    /* The job owns copies of everything: if the task is cancelled, the lookup goes on
     * without it and must not read the caller's memory. */
    struct gai_job *j = cora__calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->host = host ? strdup(host) : NULL;
    j->service = service ? strdup(service) : NULL;
    if ((host && !j->host) || (service && !j->service)) {
        gai_free(j);
        return -ENOMEM;
    }
    if (hints) j->hints = *hints, j->has_hints = true;
    j->hints.ai_canonname = NULL, j->hints.ai_addr = NULL, j->hints.ai_next = NULL;
    int r = cora_to_thread_ex(gai_run, j, gai_abandon, NULL);
    if (r < 0) {
        if (r != -ECANCELED && r != -ETIMEDOUT) gai_free(j); /* never queued */
        return r;
    }
    r = gai_to_errno(j->rc, j->err);
    *res = r == 0 ? j->res : NULL;
    free(j->host);
    free(j->service);
    free(j);
    return r;
}

/* ---- the operations ------------------------------------------------------------- */

static ssize_t run_op(int kind, int fd, void *buf, size_t len, int flags)
{
    if (fd < 0) return -EBADF;
    cora__op op = {.kind = (uint8_t)kind, .fd = fd, .buf = buf, .len = len, .flags = flags};
    return (ssize_t)cora__io_run(&op);
}

ssize_t cora_recv(int fd, void *buf, size_t len, int flags)
{
    if (!buf && len) return -EFAULT;
    return run_op(CORA__OP_RECV, fd, buf, len, flags);
}

ssize_t cora_send(int fd, const void *buf, size_t len, int flags)
{
    if (!buf && len) return -EFAULT;
    return run_op(CORA__OP_SEND, fd, (void *)buf, len, flags);
}

ssize_t cora_send_all(int fd, const void *buf, size_t len, size_t *sent)
{
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = cora_send(fd, (const char *)buf + done, len - done, 0);
        if (r < 0) break;
        done += (size_t)r;
    }
    if (sent) *sent = done;
    return r < 0 ? r : (ssize_t)done;
}

int cora_shutdown(int fd, int how)
{
    return shutdown(fd, how) < 0 ? -errno : 0;
}

static int connect_fd(int fd, const struct sockaddr *addr, socklen_t len)
{
    cora__op op = {.kind = CORA__OP_CONNECT, .fd = fd, .addr = (void *)addr, .addrlen = len};
    return (int)cora__io_run(&op);
}

static int connect_addr(const struct sockaddr *addr, socklen_t len, int type)
{
    int fd = socket(addr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int r = connect_fd(fd, addr, len);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

/* ---- Happy Eyeballs (RFC 8305) ---------------------------------------------------
 *
 * cora_tcp_connect on a name is a small state machine run by the calling task (the
 * driver) over helpers in a task group:
 *   - two lookups started together, AAAA and A (each a cora_resolve of one family, so
 *     both queries go out at once and share the loop's c-ares channel; no thread);
 *   - one task per connection attempt.
 * Every helper sets one event when it ends; the driver wakes on it, or on a timer set
 * for the next moment a rule can change its mind:
 *   - an AAAA answer starts the race at once. An A answer that comes first waits up to
 *     the Resolution Delay (50 ms) for the AAAA answer, then IPv4 starts (section 3);
 *   - addresses are tried with the families alternating, IPv6 first (section 4, a
 *     First Address Family Count of 1); an answer that comes later joins the queue;
 *   - the next attempt starts the Connection Attempt Delay (250 ms) after the last one
 *     started, or at once when no attempt is in flight (every earlier one failed)
 *     (section 5);
 *   - the first connection wins. The group is then cancelled (lookups still pending,
 *     losing attempts) and awaited, so nothing the call started outlives it.
 * A name in the hosts file is answered from it at once, both families together, and
 * asks no server. Nothing of the state is kept on the caller's stack but the group. */

#define HE_MAX 8                          /* addresses per family, at most */
#define HE_RESOLUTION_DELAY_NS 50000000LL /* the RFC's recommended 50 ms */
#define HE_ATTEMPT_DELAY_NS 250000000LL   /* the RFC's recommended 250 ms */

typedef struct eyeballs eyeballs;

/* One family's addresses, as its lookup gave them, and how many were tried. */
typedef struct he_family {
    eyeballs *he;
    int family;
    struct sockaddr_storage addrs[HE_MAX];
    int n, tried;
    bool done;    /* its lookup ended (answered, failed or not needed) */
    int err;      /* the lookup's error, or 0 */
    int64_t when; /* when it ended */
} he_family;

typedef struct attempt {
    eyeballs *he;
    struct sockaddr_storage addr;
} attempt;

struct eyeballs {
    const char *host; /* the caller's: every helper ends before cora_tcp_connect returns */
    int port;
    he_family v6, v4;
    attempt at[2 * HE_MAX];
    int started, in_flight;
    int last_family;         /* of the last attempt started (0: none yet) */
    int64_t next_attempt_ns; /* no attempt starts before, unless none is in flight */
    int winner;              /* the first connected socket, or -1 */
    int last_err;            /* of the last attempt that failed */
    cora_event changed;
    struct sockaddr_storage listed[2 * HE_MAX]; /* the hosts file's answer */
};

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void *he_lookup(void *arg)
{
    he_family *f = arg;
    int n = cora_resolve(f->he->host, f->he->port, f->family, f->addrs, HE_MAX);
    f->n = 0;
    for (int i = 0; i < n; i++) /* keep only the family asked for */
        if (f->addrs[i].ss_family == f->family) f->addrs[f->n++] = f->addrs[i];
    f->err = n < 0 ? n : 0;
    f->done = true;
    f->when = cora_now_ns();
    cora_event_set(&f->he->changed);
    return NULL; /* never a failure: that would make the group cancel the others */
}

static void *he_attempt(void *arg)
{
    attempt *a = arg;
    eyeballs *he = a->he;
    int fd = connect_addr((struct sockaddr *)&a->addr, addr_len(&a->addr), SOCK_STREAM);
    if (fd >= 0 && he->winner < 0) {
        he->winner = fd;
    } else if (fd >= 0) {
        close(fd); /* another attempt won first */
    } else {
        he->last_err = fd;
    }
    he->in_flight--;
    cora_event_set(&he->changed);
    return NULL;
}

/* The family whose next address is tried next: the other one than last time when
 * both have some left, IPv6 first. NULL when no address is waiting. */
static he_family *he_next(eyeballs *he)
{
    bool six = he->v6.tried < he->v6.n, four = he->v4.tried < he->v4.n;
    if (six && four) return he->last_family == AF_INET6 ? &he->v4 : &he->v6;
    return six ? &he->v6 : four ? &he->v4 : NULL;
}

/* Waits for a helper to end, or until `wake` (monotonic ns; CORA_NO_DEADLINE for no
 * timer). Returns 0, or the caller's cancellation or deadline. */
static int he_wait(eyeballs *he, int64_t wake)
{
    if (wake == CORA_NO_DEADLINE) return cora_event_wait(&he->changed);
    cora_scope s;
    int r = cora_scope_enter(&s, wake, CORA_SCOPE_MOVE_ON);
    if (r < 0) return r;
    r = cora_event_wait(&he->changed);
    cora_scope_exit(&s);
    if (r == -ETIMEDOUT && cora_scope_cause(&s) == -ETIMEDOUT) r = 0; /* our own timer */
    return r;
}

/* The error for a name none of whose lookups gave an address: a failure to get an
 * answer says more than "no such name" from the other family. */
static int he_lookup_error(const eyeballs *he)
{
    if (he->v4.err && he->v4.err != -ENOENT) return he->v4.err;
    if (he->v6.err && he->v6.err != -ENOENT) return he->v6.err;
    return -ENOENT;
}

/* Runs the race until a winner, the end of every address, or the caller's
 * cancellation or deadline (returned). */
static int he_race(eyeballs *he, cora_group *g, int64_t resolution_delay, int64_t attempt_delay)
{
    for (;;) {
        cora_event_clear(&he->changed); /* before looking: a helper that ends later sets it */
        if (he->winner >= 0) return 0;
        int64_t now = cora_now_ns(), wake = CORA_NO_DEADLINE;
        he_family *f = he_next(he);
        if (f == &he->v4 && he->started == 0 && !he->v6.done &&
            now < he->v4.when + resolution_delay) { /* A came first: give AAAA a moment */
            wake = he->v4.when + resolution_delay;
            f = NULL;
        }
        if (f && he->in_flight > 0 && now < he->next_attempt_ns) { /* the last is young */
            wake = he->next_attempt_ns;
            f = NULL;
        }
        if (f) {
            attempt *a = &he->at[he->started];
            *a = (attempt){he, f->addrs[f->tried++]};
            int r = cora_group_spawn(g, he_attempt, a, NULL);
            if (r < 0) return r;
            he->started++;
            he->in_flight++;
            he->last_family = f->family;
            he->next_attempt_ns = now + attempt_delay;
            continue;
        }
        if (he->in_flight == 0 && he->v6.done && he->v4.done && !he_next(he))
            return he->started ? he->last_err : he_lookup_error(he); /* all failed */
        int r = he_wait(he, wake);
        if (r < 0) return r;
    }
}

int cora__tcp_connect_he(const char *host, int port, int64_t resolution_delay_ns,
                         int64_t attempt_delay_ns)
{
    if (!cora__current()) return -EPERM;
    struct sockaddr_storage ss;
    int len = cora_addr(host, port, &ss);
    if (len > 0) return connect_addr((struct sockaddr *)&ss, (socklen_t)len, SOCK_STREAM);
    if (!host || !*host || port < 0 || port > 65535) return -EINVAL;
    int r = cora__checkpoint();
    if (r) return r;
    eyeballs *he = cora__calloc(1, sizeof *he); /* large: keep it off the task's stack */
    if (!he) return -ENOMEM;
    he->host = host;
    he->port = port;
    he->v6 = (he_family){.he = he, .family = AF_INET6};
    he->v4 = (he_family){.he = he, .family = AF_INET};
    he->winner = -1;
    he->last_err = -ENOENT;
    cora_event_init(&he->changed);
    cora_group g;
    cora_group_init(&g);
    /* The hosts file first: it answers both families at once. */
    int nlisted = r = cora__resolve_hosts(host, port, he->listed, 2 * HE_MAX);
    for (int i = 0; i < nlisted; i++) {
        he_family *f = he->listed[i].ss_family == AF_INET6 ? &he->v6 : &he->v4;
        if (f->n < HE_MAX) f->addrs[f->n++] = he->listed[i];
    }
    if (nlisted > 0) {
        he->v6.done = he->v4.done = true;
        r = 0;
    } else if (r == 0) { /* not listed: both queries at once, AAAA first */
        r = cora_group_spawn(&g, he_lookup, &he->v6, NULL);
        if (r == 0) r = cora_group_spawn(&g, he_lookup, &he->v4, NULL);
    }
    if (r == 0) r = he_race(he, &g, resolution_delay_ns, attempt_delay_ns);
    cora_group_cancel(&g); /* pending lookups, the losers */
    cora_group_wait(&g);
    cora_group_destroy(&g);
    int fd = he->winner;
    free(he);
    /* A connection made just as the caller was cancelled is returned, not dropped: the
     * result wins, as for any operation that completed (the cancellation comes at the
     * caller's next suspension point). */
    if (fd >= 0) return fd;
    return r < 0 ? r : -EIO;
}

int cora_tcp_connect(const char *host, int port)
{
    return cora__tcp_connect_he(host, port, HE_RESOLUTION_DELAY_NS, HE_ATTEMPT_DELAY_NS);
}

static int set_int(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof v) < 0 ? -errno : 0;
}

int cora_tcp_listen(const char *host, int port, const cora_listen_opts *opts)
{
    struct sockaddr_storage ss;
    int len = cora_addr(host, port, &ss);
    if (len < 0) {
        /* A name (rare for a server): resolve it on the pool, first address. */
        if (!cora__current()) return -EINVAL;
        char service[8];
        snprintf(service, sizeof service, "%d", port);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        struct addrinfo *res;
        int r = cora_getaddrinfo(host, service, &hints, &res);
        if (r < 0) return r;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        len = (int)res->ai_addrlen;
        freeaddrinfo(res);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && errno == EAFNOSUPPORT && !host) { /* no IPv6 here: IPv4 only */
        len = cora_addr("0.0.0.0", port, &ss);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) return -errno;
    int r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (!r && opts && opts->reuseport) r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (!r && ss.ss_family == AF_INET6 && !host)
        r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts && opts->v6only);
    if (!r && bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0) r = -errno;
    if (!r && listen(fd, opts && opts->backlog > 0 ? opts->backlog : SOMAXCONN) < 0) r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

static bool out_of_resources(int r)
{
    return r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM;
}

/* Errors of the connection being accepted, not of the listener: skip it. */
static bool transient(int r)
{
    return r == -ECONNABORTED || r == -EPROTO || r == -ENETDOWN || r == -ENOPROTOOPT ||
           r == -EHOSTDOWN || r == -ENONET || r == -EHOSTUNREACH || r == -ENETUNREACH ||
           r == -EINTR || r == -EAGAIN;
}

int cora_accept(int fd, struct sockaddr_storage *peer, socklen_t *peerlen)
{
    if (fd < 0) return -EBADF;
    struct sockaddr_storage scratch;
    socklen_t scratchlen;
    double backoff = 0.001;
    for (;;) {
        scratchlen = sizeof scratch;
        cora__op op = {.kind = CORA__OP_ACCEPT, .fd = fd,
                       .addr = peer ? (void *)peer : (void *)&scratch,
                       .addrlenp = peer && peerlen ? peerlen : &scratchlen};
        int r = (int)cora__io_run(&op);
        if (r >= 0) return r;
        if (transient(r)) continue;
        if (!out_of_resources(r)) return r;
        cora_loop *loop = cora__loop();
        if (!loop->accept_backoff_said) {
            loop->accept_backoff_said = true;
            fprintf(stderr, "cora: accept: %s (%s); backing off and retrying instead of "
                            "spinning (said once)\n",
                    cora_err_name(r), cora_strerror(r));
        }
        int s = cora_sleep(backoff);
        if (s < 0) return s;
        backoff = backoff * 2 > 1.0 ? 1.0 : backoff * 2;
    }
}

int cora_tcp_nodelay(int fd, int on)
{
    return set_int(fd, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

int cora_tcp_keepalive(int fd, int on, int idle_seconds)
{
    int r = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, on != 0);
    if (!r && on && idle_seconds > 0) r = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_seconds);
    return r;
}

int cora_socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

/* ---- UDP ------------------------------------------------------------------------ */

int cora_udp_socket(int family)
{
    if (family != AF_INET && family != AF_INET6) return -EAFNOSUPPORT;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int cora_udp_bind(const char *host, int port)
{
    struct sockaddr_storage ss;
    int len = cora_addr(host, port, &ss);
    if (len < 0) return len;
    int fd = cora_udp_socket(ss.ss_family);
    if (fd < 0) return fd;
    int r = 0;
    if (ss.ss_family == AF_INET6 && !host) r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    if (!r && bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0) r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

ssize_t cora_sendto(int fd, const void *buf, size_t len, const struct sockaddr *to,
                    socklen_t tolen)
{
    if (!buf && len) return -EFAULT;
    struct iovec iov = {(void *)buf, len};
    struct msghdr msg = {.msg_name = (void *)to, .msg_namelen = to ? tolen : 0,
                         .msg_iov = &iov, .msg_iovlen = 1};
    return run_op(CORA__OP_SENDMSG, fd, &msg, 0, 0);
}

ssize_t cora_recvfrom(int fd, void *buf, size_t len, struct sockaddr_storage *from,
                      socklen_t *fromlen)
{
    if (!buf && len) return -EFAULT;
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_name = from, .msg_namelen = from ? sizeof *from : 0,
                         .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t r = run_op(CORA__OP_RECVMSG, fd, &msg, 0, 0);
    if (r >= 0 && fromlen) *fromlen = msg.msg_namelen;
    return r;
}

/* ---- Unix ----------------------------------------------------------------------- */

static int unix_addr(const char *path, struct sockaddr_un *sun)
{
    if (!path) return -EINVAL;
    size_t n = strlen(path);
    if (n == 0) return -EINVAL;
    if (n >= sizeof sun->sun_path) return -ENAMETOOLONG;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    return (int)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

int cora_unix_listen(const char *path, int backlog)
{
    struct sockaddr_un sun;
    int len = unix_addr(path, &sun);
    if (len < 0) return len;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int r = bind(fd, (struct sockaddr *)&sun, (socklen_t)len) < 0 ? -errno : 0;
    if (r == -EADDRINUSE) {
        /* A socket file left by a process that is gone: nothing accepts on it. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sun, (socklen_t)len) == 0;
        if (probe >= 0) close(probe);
        if (!alive && unlink(path) == 0)
            r = bind(fd, (struct sockaddr *)&sun, (socklen_t)len) < 0 ? -errno : 0;
    }
    if (!r && listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int cora_unix_connect(const char *path)
{
    struct sockaddr_un sun;
    int len = unix_addr(path, &sun);
    if (len < 0) return len;
    return connect_addr((struct sockaddr *)&sun, (socklen_t)len, SOCK_STREAM);
}

int cora_unix_dgram(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (path) {
        struct sockaddr_un sun;
        int len = unix_addr(path, &sun);
        int r = len < 0 ? len : bind(fd, (struct sockaddr *)&sun, (socklen_t)len) < 0 ? -errno : 0;
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    return fd;
}

int cora_socketpair(int type, int fds[2])
{
    if (!fds || (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET))
        return -EINVAL;
    return socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0;
}
