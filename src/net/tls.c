/* src/net/tls.c: TLS with OpenSSL 3.
 *
 * OpenSSL reads and writes the socket through a BIO of ours whose reads and writes
 * are cora operations (cora__io_run): the bytes go through the loop's backend like a
 * plain stream's (io_uring carries them; epoll keeps the fd registered), with the
 * same hints, and the task parks inside OpenSSL's call while it waits. That works
 * because tasks have stacks of their own; a memory BIO with copies in and out would
 * be needed otherwise. Read-ahead is on, so a record header and its body come in one
 * read rather than two.
 *
 * A cancellation met while parked must not break the connection: the BIO returns
 * "retry" (OpenSSL keeps its state, as for a non-blocking socket that would block)
 * and keeps the cause, which the caller then returns. Any other failure is the
 * socket's, reported as a system call error and fatal to the connection.
 *
 * Partial writes and a moving write buffer are enabled, so a write cut short by
 * cancellation can be resumed later from the stream's output buffer, as OpenSSL
 * requires, without losing or repeating bytes.
 */
#include "../io/backend.h"
#include "cora/io.h"
#include "cora/net.h"
#include "cora/tls.h"
#include "internal.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cora_tls {
    SSL_CTX *ctx;
    bool server, insecure;
    unsigned char *alpn; /* wire format: length-prefixed names */
    size_t alpn_len;
};

static __thread char errstr[256];

const char *cora_tls_errstr(void)
{
    return errstr;
}

static void set_errstr(const char *what)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        snprintf(errstr, sizeof errstr, "%s: %s", what, ERR_reason_error_string(e));
    else
        snprintf(errstr, sizeof errstr, "%s", what);
    ERR_clear_error();
}

/* ---- configurations ------------------------------------------------------------- */

/* "h2,http/1.1" -> "\x02h2\x08http/1.1" */
static int alpn_wire(const char *list, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(list);
    unsigned char *w = cora__malloc(n + 1);
    if (!w) return -ENOMEM;
    size_t o = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len > 255) {
            free(w);
            return -EINVAL;
        }
        w[o++] = (unsigned char)len;
        memcpy(w + o, p, len);
        o += len;
        p += len + (end ? 1 : 0);
    }
    *out = w;
    *outlen = o;
    return 0;
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    cora_tls *t = arg;
    unsigned char *sel;
    /* The server's preference order wins among the protocols the client offers. */
    if (SSL_select_next_proto(&sel, outlen, t->alpn, (unsigned)t->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int file_error(const char *path)
{
    if (access(path, R_OK) < 0) return -errno;
    return -EINVAL;
}

static int make(cora_tls **out, const cora_tls_opts *opts, bool server)
{
    if (!out) return -EINVAL;
    *out = NULL;
    cora_tls_opts o = opts ? *opts : (cora_tls_opts){0};
    if (server && (!o.cert_file || !o.key_file)) return -EINVAL;
    cora_tls *t = cora__calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->server = server;
    t->insecure = !server && o.insecure;
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    int r = t->ctx ? 0 : -ENOMEM;
    if (!r) {
        SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    if (!r && o.cert_file && SSL_CTX_use_certificate_chain_file(t->ctx, o.cert_file) != 1) {
        set_errstr("certificate file");
        r = file_error(o.cert_file);
    }
    if (!r && o.key_file && SSL_CTX_use_PrivateKey_file(t->ctx, o.key_file, SSL_FILETYPE_PEM) != 1) {
        set_errstr("key file");
        r = file_error(o.key_file);
    }
    if (!r && o.key_file && SSL_CTX_check_private_key(t->ctx) != 1) {
        set_errstr("the key does not match the certificate");
        r = -EINVAL;
    }
    if (!r && !server && !t->insecure) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        int ok = o.ca_file ? SSL_CTX_load_verify_locations(t->ctx, o.ca_file, NULL)
                           : SSL_CTX_set_default_verify_paths(t->ctx);
        if (ok != 1) {
            set_errstr("CA store");
            r = o.ca_file ? file_error(o.ca_file) : -EPROTO;
        }
    }
    if (!r && o.alpn) {
        r = alpn_wire(o.alpn, &t->alpn, &t->alpn_len);
        if (!r && server) SSL_CTX_set_alpn_select_cb(t->ctx, select_alpn, t);
        if (!r && !server && SSL_CTX_set_alpn_protos(t->ctx, t->alpn, (unsigned)t->alpn_len) != 0)
            r = -ENOMEM;
    }
    if (r < 0) {
        cora_tls_free(t);
        return r;
    }
    *out = t;
    return 0;
}

int cora_tls_client(cora_tls **out, const cora_tls_opts *opts)
{
    return make(out, opts, false);
}

int cora_tls_server(cora_tls **out, const cora_tls_opts *opts)
{
    return make(out, opts, true);
}

void cora_tls_free(cora_tls *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    free(t->alpn);
    free(t);
}

/* ---- the BIO: OpenSSL's socket I/O as cora operations --------------------------- */

typedef struct tls_io {
    int fd;
    bool drained; /* the last read came back short: CORA__HINT_EMPTY for the next */
    int cause;    /* a cancellation cause met inside OpenSSL, for the caller to return */
    int err;      /* the socket's error that failed the last BIO call */
} tls_io;

/* Runs one read or write for OpenSSL. Returns bytes (>= 0), or -1 with either the
 * retry flag and io->cause set (cancelled: the connection stays usable) or io->err
 * and errno set (the socket failed). */
/* For OpenSSL's I/O with errors queued: a send without waiting, as the socket BIO
 * does. A receive is not made here (on io_uring the loop may hold bytes received
 * ahead for this fd, which a direct recv would skip): "retry" brings the caller back
 * with the queue cleared, and the receive is then made as usual. */
static int bio_op_now(BIO *b, tls_io *io, int kind, void *buf, size_t len, size_t *done)
{
    if (kind == CORA__OP_RECV) {
        BIO_set_retry_read(b);
        return -1;
    }
    ssize_t n = send(io->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
        *done = (size_t)n;
        return n > 0 || len == 0 ? 1 : 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        BIO_set_retry_write(b);
        return -1;
    }
    io->err = -errno;
    return -1;
}

static int bio_op(BIO *b, int kind, void *buf, size_t len, size_t *done)
{
    tls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    /* OpenSSL keeps its errors in a per-thread queue, which SSL_get_error reads, and
     * every task of the loop shares the thread: a task parked here with errors queued
     * could find them wiped by another task's call (each starts with
     * ERR_clear_error), and its failure would read as a dropped connection. OpenSSL
     * does I/O with errors queued only to send an alert on its way out of a failure:
     * that goes out now or not at all, never waiting. */
    if (ERR_peek_error()) return bio_op_now(b, io, kind, buf, len, done);
    uint8_t hints = CORA__HINT_OWNED;
    if (kind == CORA__OP_RECV && io->drained) hints |= CORA__HINT_EMPTY;
    cora__op op = {.kind = (uint8_t)kind, .fd = io->fd, .buf = buf, .len = len, .hints = hints};
    int64_t n = cora__io_run(&op);
    if (n >= 0) {
        if (kind == CORA__OP_RECV) {
            io->drained = (size_t)n < len;
            if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* as the socket BIO does */
        }
        *done = (size_t)n;
        return n > 0 || len == 0 ? 1 : 0;
    }
    /* Never started (a pending cancellation) or taken back by the kernel: a cause. */
    if (op.state != CORA__OP_DONE || op.res == -ECANCELED) {
        io->cause = (int)n;
        kind == CORA__OP_RECV ? BIO_set_retry_read(b) : BIO_set_retry_write(b);
        return -1;
    }
    io->err = (int)n;
    errno = (int)-n;
    return -1;
}

static int bio_read(BIO *b, char *buf, size_t len, size_t *done)
{
    return bio_op(b, CORA__OP_RECV, buf, len, done);
}

static int bio_write(BIO *b, const char *buf, size_t len, size_t *done)
{
    return bio_op(b, CORA__OP_SEND, (void *)buf, len, done);
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    tls_io *io = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* nothing is buffered here */
        return 1;
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    case BIO_C_GET_FD:
        if (ptr) *(int *)ptr = io->fd;
        return io->fd;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cora");
    if (m && BIO_meth_set_read_ex(m, bio_read) && BIO_meth_set_write_ex(m, bio_write) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create) &&
        BIO_meth_set_destroy(m, bio_destroy))
        bio_method = m;
    else
        BIO_meth_free(m);
}

/* Gives ssl a BIO of ours over fd. */
static int attach(SSL *ssl, int fd)
{
    pthread_once(&bio_once, bio_method_init);
    tls_io *io = bio_method ? cora__calloc(1, sizeof *io) : NULL;
    BIO *b = io ? BIO_new(bio_method) : NULL;
    if (!b) {
        free(io);
        return -ENOMEM;
    }
    io->fd = fd;
    BIO_set_data(b, io);
    SSL_set_bio(ssl, b, b); /* one BIO both ways: ssl takes the one reference */
    SSL_set_read_ahead(ssl, 1);
    return 0;
}

static tls_io *io_of(SSL *ssl)
{
    return BIO_get_data(SSL_get_rbio(ssl));
}

/* What OpenSSL's "want read/write" means with our BIO: a cancellation it met (its
 * cause, taken), or 0 to call OpenSSL again (it wanted more without asking the BIO,
 * which then parks for it). */
static int take_cause(SSL *ssl)
{
    tls_io *io = io_of(ssl);
    int c = io->cause;
    io->cause = 0;
    ERR_clear_error(); /* nothing of ours stays in the thread's queue for other tasks */
    return c;
}

/* ---- I/O ------------------------------------------------------------------------ */

/* What an OpenSSL failure means, as an errno, with the reason kept for people. */
static int map_error(SSL *ssl, int e, bool handshake)
{
    /* ZERO_RETURN here is a write (or our close_notify) that failed in the socket
     * after the peer's close_notify came: SSL_get_error reports the received shutdown
     * before it falls back to SSL_ERROR_SYSCALL, but the cause is the system call's,
     * in errno. (Reads return 0 for it before they get here.) */
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        tls_io *io = io_of(ssl);
        int err = io->err ? -io->err : errno;
        io->err = 0;
        set_errstr(err ? strerror(err) : "the peer closed the connection mid-stream");
        return err ? -err : -ECONNRESET;
    }
    long v = SSL_get_verify_result(ssl);
    if (handshake && v != X509_V_OK) {
        snprintf(errstr, sizeof errstr, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
        return -EKEYREJECTED;
    }
    set_errstr(handshake ? "TLS handshake failed" : "TLS error");
    return -EPROTO;
}

/* After SSL_ERROR_SYSCALL or SSL_ERROR_SSL no further I/O may be done on the
 * connection (SSL_get_error(3)). Doing it anyway fails again, differently: a write
 * after a failed one gives SSL_ERROR_SYSCALL with errno 0, which map_error must read
 * as the peer gone mid-stream, so the caller saw -ECONNRESET where the socket had
 * said -EPIPE or -EIO. The first fatal error is therefore kept on the connection
 * (as its app data) and every later read, write or shutdown returns it. */
static int fatal(SSL *ssl, int err)
{
    SSL_set_app_data(ssl, (void *)(intptr_t)err);
    return err;
}

static int dead(SSL *ssl)
{
    return (int)(intptr_t)SSL_get_app_data(ssl);
}


ssize_t cora__tls_read(void *p, void *buf, size_t len)
{
    SSL *ssl = p;
    if (dead(ssl)) return dead(ssl);
    for (;;) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(ssl, buf, len, &n) == 1) return (ssize_t)n;
        int e = SSL_get_error(ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN) return 0; /* close_notify: a clean end */
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int r = take_cause(ssl);
            if (r < 0) return r;
            continue;
        }
        return fatal(ssl, map_error(ssl, e, false));
    }
}

ssize_t cora__tls_write(void *p, const void *buf, size_t len)
{
    SSL *ssl = p;
    if (dead(ssl)) return dead(ssl);
    for (;;) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_write_ex(ssl, buf, len, &n) == 1) return (ssize_t)n;
        int e = SSL_get_error(ssl, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int r = take_cause(ssl);
            if (r < 0) return r;
            continue;
        }
        return fatal(ssl, map_error(ssl, e, false));
    }
}

int cora__tls_shutdown(void *p)
{
    SSL *ssl = p;
    if (dead(ssl)) return dead(ssl);
    /* Send our close_notify; do not wait for the peer's (the socket half-closes next).
     * A full socket makes it wait and retry, as reads and writes do. */
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(ssl);
        if (r >= 0) return 0;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = take_cause(ssl);
            if (w < 0) return w;
            continue;
        }
        return fatal(ssl, map_error(ssl, e, false));
    }
}

void cora__tls_free(void *p)
{
    SSL_free(p);
}

int cora__tls_alpn(void *p, char *buf, size_t len)
{
    const unsigned char *proto;
    unsigned n;
    SSL_get0_alpn_selected(p, &proto, &n);
    if (!n || n >= len) return 0;
    memcpy(buf, proto, n);
    buf[n] = 0;
    return (int)n;
}

static int handshake(SSL *ssl, bool server)
{
    for (;;) {
        ERR_clear_error();
        int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (r == 1) return 0;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = take_cause(ssl);
            if (w < 0) return w;
            continue;
        }
        return map_error(ssl, e, true);
    }
}

static bool is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Closes fd, which our BIO's operations may have registered with the loop. */
static void drop(int fd)
{
    cora__io_forget(fd);
    close(fd);
}

static int start(cora_stream **out, int fd, const char *name, cora_tls *t, bool server)
{
    if (!out || !t || t->server != server || (!server && !name && !t->insecure)) {
        drop(fd);
        return -EINVAL;
    }
    *out = NULL;
    errstr[0] = 0;
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || attach(ssl, fd) < 0) {
        SSL_free(ssl);
        drop(fd);
        return -ENOMEM;
    }
    if (!server && name && !t->insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name)
                             : SSL_set1_host(ssl, name);
        if (ok != 1) {
            SSL_free(ssl);
            drop(fd);
            return -EINVAL;
        }
    }
    if (!server && name && !is_ip(name)) SSL_set_tlsext_host_name(ssl, name); /* SNI */
    int r = handshake(ssl, server);
    if (r < 0) {
        SSL_free(ssl);
        drop(fd);
        return r;
    }
    r = cora__stream_new_tls(out, fd, ssl);
    if (r < 0) SSL_free(ssl); /* the stream closed fd */
    return r;
}

int cora_tls_connect_fd(cora_stream **out, int fd, const char *servername, cora_tls *tls)
{
    return start(out, fd, servername, tls, false);
}

int cora_tls_accept(cora_stream **out, int fd, cora_tls *tls)
{
    return start(out, fd, NULL, tls, true);
}

int cora_tls_connect(cora_stream **out, const char *host, int port, cora_tls *tls)
{
    if (!out || !tls) return -EINVAL;
    int fd = cora_tcp_connect(host, port);
    if (fd < 0) return fd;
    /* "[::1]" is checked as the address inside. */
    char name[256];
    snprintf(name, sizeof name, "%s", host ? host : "");
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
        memmove(name, name + 1, n - 2);
        name[n - 2] = 0;
    }
    return start(out, fd, name, tls, false);
}
