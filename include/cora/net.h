/* cora/net.h: sockets: TCP, UDP, Unix, socket pairs, name lookup.
 *
 * Sockets are plain file descriptors, non-blocking and close-on-exec, closed with
 * close(2): cora keeps no state per socket, so they mix freely with other C code.
 * Every call that waits suspends only its task, honours cancellation and deadlines
 * (cora_fail_after), and leaves no fd behind when it fails: a connect that fails or is
 * cancelled closes the socket it made.
 *
 * Hosts are numeric addresses ("127.0.0.1", "::1", "[::1]"), "localhost", or names,
 * looked up inside the loop with c-ares (honouring /etc/hosts and /etc/resolv.conf).
 * Ports are numbers; 0 asks the kernel for a free port (cora_socket_port tells which).
 *
 * Writes never raise SIGPIPE: a peer that has gone gives -EPIPE (or -ECONNRESET).
 */
#ifndef CORA_NET_H
#define CORA_NET_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* loop.getaddrinfo: getaddrinfo(3) on the thread pool. Returns 0 with *res set (free
 * it with freeaddrinfo), or -ENOENT (no such host or service), -EAGAIN (temporary
 * failure), -ENOMEM, -EINVAL (bad arguments), -ECANCELED, -ETIMEDOUT. A lookup
 * abandoned by cancellation frees its own result when it ends. */
int cora_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res);

/* Looks host up with the in-loop resolver (c-ares: /etc/hosts, then the servers of
 * /etc/resolv.conf, or CORA_DNS_SERVERS="ip:port,..." from the environment), without a
 * thread. Fills addrs with up to max addresses (port set), in the order RFC 6724
 * prefers; family is AF_UNSPEC, AF_INET or AF_INET6. Numeric hosts and "localhost"
 * answer at once. Returns the count, or -ENOENT (no such name), -ETIMEDOUT (no
 * server answered, or a deadline), -ECANCELED, -EINVAL, -ENOMEM. */
int cora_resolve(const char *host, int port, int family, struct sockaddr_storage *addrs, int max);

/* ---- TCP ------------------------------------------------------------------------ */

/* Connects to host:port. A numeric host or "localhost" is connected to directly. A
 * name is raced as Happy Eyeballs (RFC 8305) does, inside the loop:
 *   - a name the hosts file lists is answered from it at once, both families, and no
 *     server is asked; otherwise the AAAA and A questions are sent together (the
 *     in-loop resolver of cora_resolve);
 *   - the AAAA answer starts connecting at once; an A answer that comes first waits
 *     up to 50 ms (the Resolution Delay) for the AAAA one, then IPv4 starts. An
 *     answer that comes later joins the race;
 *   - addresses are tried with IPv6 and IPv4 alternating, IPv6 first (at most 8 per
 *     family); a new attempt starts 250 ms after the last one started (the
 *     Connection Attempt Delay), or at once when every earlier one has failed;
 *   - the first connection wins; the lookups still pending and the other attempts
 *     are cancelled and their sockets closed before this returns.
 * Returns the connected socket, or the error of the last attempt (-ECONNREFUSED,
 * -ENETUNREACH...), -ENOENT for an unknown name (or the lookup's error, -ETIMEDOUT
 * when no server answered), -ECANCELED, -ETIMEDOUT under a deadline. Cancelled or
 * timed out, it leaves no query, socket or task behind; a connection made in the
 * same instant as the cancellation is returned rather than dropped. */
int cora_tcp_connect(const char *host, int port);

typedef struct cora_listen_opts {
    int backlog;    /* 0: SOMAXCONN */
    int reuseport;  /* SO_REUSEPORT, so several loops (threads) can share a port */
    int v6only;     /* with host NULL: IPv6 only, instead of IPv6 and IPv4 both */
} cora_listen_opts;

/* Listens on host:port (host NULL: every interface, IPv6 and IPv4) with SO_REUSEADDR.
 * Returns the listening socket, or -EADDRINUSE, -EACCES, -ENOENT (unknown host),
 * -EINVAL... opts may be NULL. */
int cora_tcp_listen(const char *host, int port, const cora_listen_opts *opts);

/* Accepts a connection: returns the new socket (non-blocking, close-on-exec) and,
 * when peer is not NULL, the peer's address (*peerlen in/out as for accept(2)).
 * When the process is out of file descriptors (EMFILE, ENFILE) or memory, it backs
 * off (1 ms doubling to 1 s) and tries again instead of spinning, and says so once on
 * stderr; transient errors of the aborted connection itself are skipped. Returns
 * -ECANCELED, -ETIMEDOUT, -EBADF, -EINVAL (not listening). Works for Unix sockets. */
int cora_accept(int fd, struct sockaddr_storage *peer, socklen_t *peerlen);

/* Options: TCP_NODELAY; keep-alive with the idle time in seconds (0: the system's). */
int cora_tcp_nodelay(int fd, int on);
int cora_tcp_keepalive(int fd, int on, int idle_seconds);

/* The local port a socket is bound to, or a negative errno. */
int cora_socket_port(int fd);

/* ---- Sending and receiving ------------------------------------------------------ */

/* recv(2) and send(2) that suspend the task instead of blocking. send adds
 * MSG_NOSIGNAL. Return the byte count (recv: 0 when the peer closed) or a negative
 * errno. As with cora_read, an operation cut short by cancellation that had already
 * moved bytes returns the count, so nothing is lost or sent twice. */
ssize_t cora_recv(int fd, void *buf, size_t len, int flags);
ssize_t cora_send(int fd, const void *buf, size_t len, int flags);

/* Sends all len bytes, looping over short sends. Returns len or a negative errno; on
 * error *sent (when not NULL) holds how many bytes went out. */
ssize_t cora_send_all(int fd, const void *buf, size_t len, size_t *sent);

/* shutdown(2): half-close (SHUT_WR sends end of stream while reading goes on). */
int cora_shutdown(int fd, int how);

/* ---- UDP ------------------------------------------------------------------------ */

/* A UDP socket bound to host:port (host NULL: every interface). Returns the socket. */
int cora_udp_bind(const char *host, int port);

/* An unbound UDP socket of the family AF_INET or AF_INET6. */
int cora_udp_socket(int family);

/* sendto(2) / recvfrom(2) that suspend the task. from and fromlen may be NULL. */
ssize_t cora_sendto(int fd, const void *buf, size_t len, const struct sockaddr *to,
                    socklen_t tolen);
ssize_t cora_recvfrom(int fd, void *buf, size_t len, struct sockaddr_storage *from,
                      socklen_t *fromlen);

/* Fills *out with the address of host:port (numeric or "localhost" only: never
 * suspends), for cora_sendto. Returns its length, or -EINVAL. */
int cora_addr(const char *host, int port, struct sockaddr_storage *out);

/* ---- Unix sockets and pairs ----------------------------------------------------- */

/* A listening Unix stream socket at path (an existing socket file there is replaced
 * only if nothing listens on it). Returns the socket or a negative errno
 * (-ENAMETOOLONG for a path over 107 bytes). Accept with cora_accept. */
int cora_unix_listen(const char *path, int backlog);

/* Connects to the Unix stream socket at path. */
int cora_unix_connect(const char *path);

/* A Unix datagram socket bound to path (NULL: unbound). */
int cora_unix_dgram(const char *path);

/* socketpair(2) of AF_UNIX sockets of `type` (SOCK_STREAM or SOCK_DGRAM), both ends
 * non-blocking and close-on-exec. */
int cora_socketpair(int type, int fds[2]);

#ifdef __cplusplus
}
#endif
#endif
