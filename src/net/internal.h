/* src/net/internal.h: what the net layer shares between its files. */
#ifndef CORA_NET_INTERNAL_H
#define CORA_NET_INTERNAL_H

#include "../core/internal.h"
#include "cora/stream.h"

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

#endif
