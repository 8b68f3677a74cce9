/* cora/ws.h: WebSockets (RFC 6455) with permessage-deflate (RFC 7692).
 *
 * A WebSocket is a message channel over one connection. The server side is opened
 * inside an HTTP handler (cora_ws_accept upgrades the request's connection); the client
 * side by URL (cora_ws_connect, ws:// or wss://). Either way the result is a cora_ws on
 * which tasks send and receive whole messages (or fragments), ping and close.
 *
 * Every call suspends only its task, and obeys cancellation and the deadlines of the
 * scopes around it (cora_move_on_after, cora_fail_after). One task may receive while
 * others send: sends are serialized, each message goes out whole, and a send waits
 * (back-pressure) while the peer is not reading instead of growing memory.
 *
 * The protocol's rules are kept for the caller: pings are answered, control frames
 * between fragments are handled, text is checked to be UTF-8 (also across fragments),
 * messages larger than max_message are refused with close code 1009, and any protocol
 * violation fails the connection with the code the RFC names (1002, 1007) and reports
 * -EPROTO to the receiver.
 *
 * Errors are negative errno values: -EPIPE once the connection is closed (after a
 * close handshake, cora_ws_close_code says why), -EPROTO for a protocol violation by
 * the peer, -EMSGSIZE for a message over the limit, -ECANCELED and -ETIMEDOUT from
 * scopes, and the socket's own errors.
 */
#ifndef CORA_WS_H
#define CORA_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cora/http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cora_ws cora_ws;

typedef enum cora_ws_type {
    CORA_WS_TEXT = 1,   /* UTF-8 text */
    CORA_WS_BINARY = 2, /* bytes */
} cora_ws_type;

typedef struct cora_ws_opts {
    size_t max_message;       /* 0: 16 MiB; a bigger incoming message closes with 1009 */
    int permessage_deflate;   /* 1: offer (client) or accept (server) compression */
    const char *subprotocols; /* client: offered, comma-separated; server: those it
                                 speaks, in order of preference; NULL: none */
    double handshake_timeout; /* client: 0 means 30 s for connect and handshake */
    double close_timeout;     /* 0: 5 s to wait for the peer's close frame */
    cora_tls *tls;            /* client, wss://: NULL for the default verifying config */
    const char *origin;       /* client: an Origin header to send, or NULL */
} cora_ws_opts;

/* A received message (or fragment). `data` belongs to the cora_ws and stays valid
 * until the next receive on it; text is NUL-terminated (not counted in len). */
typedef struct cora_ws_msg {
    cora_ws_type type;
    const void *data;
    size_t len;
    int fin; /* cora_ws_recv_fragment: 1 on the message's last fragment */
} cora_ws_msg;

/* ---- opening ------------------------------------------------------------------- */

/* Whether the request asks for a WebSocket (GET with Upgrade: websocket). */
int cora_ws_is_upgrade(const cora_http_req *req);

/* Server: upgrades the request's connection (answers 101 Switching Protocols) and sets
 * *out. The handler then owns the WebSocket until it returns; the connection closes
 * after that (cora_ws_free first). A request that is not a valid upgrade gets 400 (426
 * for a wrong Sec-WebSocket-Version) and -EPROTO is returned; the handler should just
 * return 0 then. opts may be NULL. */
int cora_ws_accept(cora_http_req *req, const cora_ws_opts *opts, cora_ws **out);

/* Client: connects to a ws:// or wss:// URL and does the opening handshake, within
 * opts->handshake_timeout. Errors: -EINVAL for a bad URL, -EPROTO when the server does
 * not upgrade (status other than 101, a wrong Sec-WebSocket-Accept, an extension or
 * subprotocol we did not offer), and connect, DNS and TLS errors. */
int cora_ws_connect(const char *url, const cora_ws_opts *opts, cora_ws **out);

/* The subprotocol agreed on, or NULL. Whether compression was agreed. */
const char *cora_ws_subprotocol(const cora_ws *ws);
int cora_ws_compressed(const cora_ws *ws);

/* ---- messages ------------------------------------------------------------------ */

/* Sends one whole message. Text must be valid UTF-8 (-EINVAL otherwise, nothing
 * sent). Returns 0 once the message is handed to the socket. If the send is cut short
 * by cancellation or a deadline midway through the frame, the connection is no longer
 * usable (a peer cannot be sent half a frame and then another): the link is shut
 * down (the peer sees 1006) and this and later calls give -EPIPE. -EDEADLK when the calling task is in the middle of
 * its own fragmented message (cora_ws_send_fragment without fin yet). */
int cora_ws_send(cora_ws *ws, cora_ws_type type, const void *data, size_t len);
int cora_ws_send_text(cora_ws *ws, const char *text); /* strlen(text) bytes */

/* Sends a message in pieces: the first call gives the type, later ones continue it,
 * and fin = 1 ends it. While a fragmented message is in progress, other tasks' sends
 * wait for it to end. Text fragments are checked as a whole at fin. Not compressed. */
int cora_ws_send_fragment(cora_ws *ws, cora_ws_type type, const void *data, size_t len, int fin);

/* Receives the next whole message into *msg. Pings are answered and pongs consumed on
 * the way. When the peer closes, the close handshake is answered and -EPIPE returned
 * (cora_ws_close_code tells the peer's code). Only one task may receive at a time. */
int cora_ws_recv(cora_ws *ws, cora_ws_msg *msg);

/* Receives the next fragment of a message as it arrives, without gathering the whole
 * message (for large or streamed messages); msg->fin marks the last one. When
 * compression was agreed, messages come whole (fin = 1): a compressed message can only
 * be inflated as a whole. */
int cora_ws_recv_fragment(cora_ws *ws, cora_ws_msg *msg);

/* Sends a ping with up to 125 bytes of payload. The matching pong is consumed by the
 * receiving task; cora_ws_pongs counts those received. */
int cora_ws_ping(cora_ws *ws, const void *data, size_t len);
uint64_t cora_ws_pongs(const cora_ws *ws);

/* ---- closing ------------------------------------------------------------------- */

/* Starts the close handshake with a code (1000 for a normal close; 0 sends a close
 * frame without a code) and a reason of at most 123 bytes, then waits up to
 * opts->close_timeout for the peer's close (messages that arrive meanwhile are
 * dropped). Returns 0 after a clean handshake, -ETIMEDOUT when the peer never
 * answered, -EINVAL for a code that may not be sent. Safe to call more than once. */
int cora_ws_close(cora_ws *ws, unsigned code, const char *reason);

/* The code and reason of the peer's close frame (1005 when it had no code, 1006 when
 * the connection dropped without one; 0 while open). The reason is NUL-terminated. */
unsigned cora_ws_close_code(const cora_ws *ws);
const char *cora_ws_close_reason(const cora_ws *ws);

/* Whether p[0..n) is valid UTF-8 (RFC 3629), as text messages must be: 1 or 0. */
int cora_utf8_valid(const void *p, size_t n);

/* Releases the WebSocket. A client's connection is closed (abruptly, if no close
 * handshake was done); a server's is closed by the HTTP server after the handler
 * returns. NULL is ignored. */
void cora_ws_free(cora_ws *ws);

#ifdef __cplusplus
}
#endif

#endif
