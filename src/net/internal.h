/* src/net/internal.h: what the net layer shares between its files. */
#ifndef CORA_NET_INTERNAL_H
#define CORA_NET_INTERNAL_H

#include "../core/internal.h"
#include "cora/stream.h"

#include <stdint.h>
#include <sys/socket.h>

/* A stream whose transport is TLS (tls.c hands over the SSL object, which the stream
 * owns from then on, with fd). */
int cora__stream_new_tls(cora_stream **out, int fd, void *ssl);

/* The TLS transport under a stream: read, write, close_notify, free, and the ALPN
 * protocol chosen (copied into buf; 0 when none). */
ssize_t cora__tls_read(void *ssl, void *buf, size_t len);
ssize_t cora__tls_write(void *ssl, const void *buf, size_t len);
int cora__tls_shutdown(void *ssl);
void cora__tls_free(void *ssl);
int cora__tls_alpn(void *ssl, char *buf, size_t len);

/* The hosts file's addresses for host (IPv6 ones first, port set), when the loop's
 * resolver reads the file before asking servers. Returns the count (0: not listed, so
 * ask the servers), -ENOMEM, -EINVAL. Never suspends (dns.c). */
int cora__resolve_hosts(const char *host, int port, struct sockaddr_storage *addrs, int max);

/* cora_tcp_connect with RFC 8305's two delays given, in nanoseconds: the Resolution
 * Delay (how long an A answer waits for the AAAA answer before IPv4 starts) and the
 * Connection Attempt Delay. cora_tcp_connect passes 50 ms and 250 ms; tests stretch
 * them so that what they assert does not hang on the machine's speed (socket.c). */
int cora__tcp_connect_he(const char *host, int port, int64_t resolution_delay_ns,
                         int64_t attempt_delay_ns);

#endif
