/* src/net/tls.c: TLS with OpenSSL 3.
 *
 * OpenSSL drives the non-blocking socket itself (SSL_set_fd); when it needs the socket
 * to become readable or writable it says so (SSL_ERROR_WANT_READ / _WANT_WRITE) and
 * the task waits for exactly that through cora_wait_fd, a backend operation on both
 * io_uring and epoll. A memory-BIO design would let io_uring do the socket I/O too;
 * this one is simpler and the handshake dominates short connections anyway.
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
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdio.h>
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

/* ---- I/O ------------------------------------------------------------------------ */

/* What an OpenSSL failure means, as an errno, with the reason kept for people. */
static int map_error(SSL *ssl, int e, bool handshake)
{
    /* ZERO_RETURN here is a write (or our close_notify) that failed in the socket
     * after the peer's close_notify came: SSL_get_error reports the received shutdown
     * before it falls back to SSL_ERROR_SYSCALL, but the cause is the system call's,
     * in errno. (Reads return 0 for it before they get here.) */
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        int err = errno;
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

/* Waits for what OpenSSL asked for. */
static int wait_want(SSL *ssl, int e)
{
    return cora_wait_fd(SSL_get_fd(ssl), e == SSL_ERROR_WANT_READ ? CORA_READABLE : CORA_WRITABLE);
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
            int r = wait_want(ssl, e);
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
            int r = wait_want(ssl, e);
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
            int w = wait_want(ssl, e);
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

/* Fault injection (core/internal.h): OpenSSL reads and writes the socket itself, so
 * those system calls never reach the backend. A BIO callback runs before each one
 * and, when the knob says so, fails it the way the socket would: -1, errno set, no
 * retry flag, so SSL_get_error says SSL_ERROR_SYSCALL and map_error takes over.
 * Installed only on connections made while the knob is armed. */
static long fault_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                     size_t *processed)
{
    (void)argp, (void)len, (void)argi, (void)argl, (void)processed;
    int kind = oper == BIO_CB_READ ? CORA__OP_RECV : oper == BIO_CB_WRITE ? CORA__OP_SEND : -1;
    if (kind < 0 || !cora__io_should_fail(kind)) return ret;
    BIO_clear_retry_flags(b); /* or a would-block left by the last call hides it */
    errno = -cora__io_fault_fire((int)BIO_get_fd(b, NULL));
    return -1;
}

static int handshake(SSL *ssl, bool server)
{
    for (;;) {
        ERR_clear_error();
        int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (r == 1) return 0;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_want(ssl, e);
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

static int start(cora_stream **out, int fd, const char *name, cora_tls *t, bool server)
{
    if (!out || !t || t->server != server || (!server && !name && !t->insecure)) {
        close(fd);
        return -EINVAL;
    }
    *out = NULL;
    errstr[0] = 0;
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        close(fd);
        return -ENOMEM;
    }
    if (cora__fail_io_at > 0) BIO_set_callback_ex(SSL_get_rbio(ssl), fault_cb);
    if (!server && name && !t->insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name)
                             : SSL_set1_host(ssl, name);
        if (ok != 1) {
            SSL_free(ssl);
            close(fd);
            return -EINVAL;
        }
    }
    if (!server && name && !is_ip(name)) SSL_set_tlsext_host_name(ssl, name); /* SNI */
    int r = handshake(ssl, server);
    if (r < 0) {
        SSL_free(ssl);
        close(fd);
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
