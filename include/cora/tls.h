/* cora/tls.h: TLS (OpenSSL 3) over streams.
 *
 * A TLS connection is a cora_stream (cora/stream.h): the same reads, writes, drain,
 * limits and cancel-safety, with encryption underneath. Handshakes, reads, writes and
 * the closing alert are non-blocking on both backends; every one of them suspends
 * only its task and honours cancellation and deadlines (cora_fail_after).
 *
 * Clients verify by default: the server's certificate must chain to the system's CA
 * store (or to opts.ca_file) and match the host name (or IP address) connected to,
 * which is also sent as SNI. A failed verification is -EKEYREJECTED, with the reason
 * in cora_tls_errstr().
 */
#ifndef CORA_TLS_H
#define CORA_TLS_H

#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A TLS configuration (an OpenSSL SSL_CTX), shared by any number of connections. */
typedef struct cora_tls cora_tls;

typedef struct cora_tls_opts {
    const char *ca_file;   /* client: trust these CAs instead of the system store */
    const char *cert_file; /* server: its certificate chain (PEM); client: optional */
    const char *key_file;  /* the matching private key (PEM) */
    const char *alpn;      /* protocols, comma-separated, in preference order
                              ("h2,http/1.1"); NULL: no ALPN */
    int insecure;          /* client: do not verify the server (tests only) */
} cora_tls_opts;

/* Makes a client or server configuration. Returns 0 with *out set (free it with
 * cora_tls_free once no connection uses it), or -ENOENT / -EACCES (files), -EINVAL
 * (a server without certificate and key, a key that does not match, a bad ALPN
 * list), -ENOMEM, -EPROTO (anything else OpenSSL refused; cora_tls_errstr says what). */
int cora_tls_client(cora_tls **out, const cora_tls_opts *opts);
int cora_tls_server(cora_tls **out, const cora_tls_opts *opts);
void cora_tls_free(cora_tls *tls);

/* Connects to host:port over TCP and performs the client handshake (SNI, host name
 * verification unless insecure). Returns 0 with *out set, or -EKEYREJECTED (the
 * server's certificate was not accepted), -EPROTO (the handshake failed), a connect
 * error, -ECANCELED, -ETIMEDOUT. Nothing is left open on failure. */
int cora_tls_connect(cora_stream **out, const char *host, int port, cora_tls *tls);

/* The same over an existing connected socket, which the stream owns from now on (it
 * is closed on failure). servername is checked and sent as SNI (NULL: no check;
 * allowed only with insecure). */
int cora_tls_connect_fd(cora_stream **out, int fd, const char *servername, cora_tls *tls);

/* Performs the server handshake on an accepted socket, which the stream owns from now
 * on (closed on failure). Errors as cora_tls_connect. */
int cora_tls_accept(cora_stream **out, int fd, cora_tls *tls);

/* The protocol ALPN chose ("h2", "http/1.1"), or NULL: none, or not a TLS stream.
 * Valid while the stream is. */
const char *cora_stream_alpn(const cora_stream *s);

/* Why the last TLS call of this thread failed, for people (certificate checks say
 * which), or "" when none did. The text is the thread's until its next TLS failure. */
const char *cora_tls_errstr(void);

#ifdef __cplusplus
}
#endif
#endif
