/* src/ws/frame.h: the pure part of WebSockets (RFC 6455, RFC 7692).
 *
 * Frame headers, masking, UTF-8 validation, the handshake's accept key, close codes
 * and permessage-deflate parameters. No I/O, no allocation, no loop: everything here
 * is tested on its own (tests/test_ws_frame.c) and fuzzed. The connection logic that
 * uses it is src/ws/ws.c.
 *
 * Why our own codec and not Debian's libwslay: wslay owns the read and write calls
 * through callbacks and copies every payload through its own queue, while cora's
 * streams already buffer; it validates no UTF-8 and has no permessage-deflate, which
 * are most of RFC 6455's and RFC 7692's rules anyway. What is left (a 2..14 byte
 * header and a XOR) is smaller than the glue wslay would need.
 */
#ifndef CORA_WS_FRAME_H
#define CORA_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

#define WS_RSV1 4 /* in ws_frame.rsv: RSV1 is 4, RSV2 2, RSV3 1 */
#define WS_MAX_HEADER 14
#define WS_MAX_CONTROL 125

/* Close codes (RFC 6455 7.4.1) cora sends. */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire: "the close frame had no code" */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire: "the connection dropped" */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_EXTENSION = 1010,
    WS_CLOSE_INTERNAL = 1011,
};

typedef struct ws_frame {
    uint8_t fin;
    uint8_t rsv; /* the three reserved bits, RSV1 = 4, RSV2 = 2, RSV3 = 1 */
    uint8_t opcode;
    uint8_t masked;
    uint8_t mask[4];
    uint64_t len; /* payload length */
} ws_frame;

/* Parses the frame header at p[0..n). Returns the header's length (2..14) with *f set,
 * 0 when more bytes are needed, or -WS_CLOSE_PROTOCOL for: a reserved opcode (3-7,
 * 11-15), a control frame (opcode >= 8) that is fragmented or longer than 125 bytes,
 * or a 64-bit length with its top bit set. Reserved bits and masking are reported, not
 * judged: the connection knows which extensions were agreed and which side it is. */
ssize_t cora__ws_parse_header(const uint8_t *p, size_t n, ws_frame *f);

/* Writes a frame header into out (WS_MAX_HEADER bytes of room), with the shortest
 * length encoding; mask NULL for an unmasked frame. Returns the header's length. */
size_t cora__ws_put_header(uint8_t *out, int fin, int rsv, int opcode, const uint8_t *mask,
                           uint64_t len);

/* XORs p[0..n) with the mask, as if p started at byte `offset` of the payload (so a
 * payload may be unmasked in pieces). Works a machine word at a time. */
void cora__ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);

/* An incremental UTF-8 validator (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF), for text that arrives in fragments split anywhere. */
typedef struct ws_utf8 {
    uint32_t state; /* 0: between characters */
} ws_utf8;

void cora__ws_utf8_init(ws_utf8 *u);
/* Feeds p[0..n). Returns 0 while the text so far could still be valid, -1 as soon as
 * it cannot (fail fast: at the first bad byte, not at the end of the message). After
 * -1 the state stays failed. */
int cora__ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t n);
/* Whether the text fed so far ends on a character boundary (a message may end there). */
int cora__ws_utf8_complete(const ws_utf8 *u);
/* Whole-buffer check: 1 if p[0..n) is valid UTF-8, 0 if not. */
int cora__ws_utf8_valid(const uint8_t *p, size_t n);

/* Whether a Sec-WebSocket-Key value is the base64 of 16 bytes (24 characters: 22
 * digits, the last of them A, Q, g or w as in the canonical encoding, then "=="). */
int cora__ws_key_valid(const char *key, size_t len);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key ++ the RFC's GUID)), 28 characters
 * and a NUL. */
void cora__ws_accept_key(const char *key, size_t len, char out[29]);

/* Whether a close code received on the wire is valid (RFC 6455 7.4: 1000-1003,
 * 1007-1011, 3000-4999) or registered with IANA since (1012-1014: service restart,
 * try again later, bad gateway). */
int cora__ws_close_code_valid(unsigned code);
/* Checks a close frame's payload p[0..n) (already unmasked): empty, or a valid code
 * and a UTF-8 reason. Returns 0 with *code set (WS_CLOSE_NO_STATUS when empty), or
 * -WS_CLOSE_PROTOCOL (1 byte, bad code) or -WS_CLOSE_INVALID_DATA (reason not UTF-8). */
int cora__ws_parse_close(const uint8_t *p, size_t n, unsigned *code);

/* permessage-deflate (RFC 7692) parameters. Window bits are 8..15; 15 when absent. */
typedef struct ws_deflate {
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits;
    int client_max_window_bits;
} ws_deflate;

/* Room for any response cora__ws_deflate_accept writes, NUL included. */
#define WS_DEFLATE_RESP_MAX 160

/* Server side. `offers` is the request's Sec-WebSocket-Extensions (several header
 * lines joined by ", "). Picks the first permessage-deflate offer cora can honour and
 * writes the response's extension value into resp (cap bytes, NUL-terminated; resp is
 * "" when nothing is accepted, and an answer that would not fit is declined).
 * The response echoes the accepted parameters in the order server_no_context_takeover,
 * client_no_context_takeover, server_max_window_bits=N, client_max_window_bits=N (the
 * last only when the client gave a value: a bare one leaves the client at 15).
 * Returns 1 when one was accepted (*out set), 0 when none was offered or none is
 * acceptable (then no compression: not an error), -1 when the header is malformed.
 * An offer is declined when it asks for server_max_window_bits=8: zlib cannot deflate
 * with a 256-byte window (it silently uses 512), and the RFC lets a server decline.
 * An offer with a duplicate or unknown parameter, or a bad value, is declined.
 * Extension and parameter names are compared without regard to case. */
int cora__ws_deflate_accept(const char *offers, ws_deflate *out, char *resp, size_t cap);
/* Client side: the offer cora sends ("permessage-deflate; client_max_window_bits"). */
const char *cora__ws_deflate_offer(void);
/* Client side: checks the server's Sec-WebSocket-Extensions answer against our offer.
 * Returns 1 with *out set when permessage-deflate was agreed, 0 when the answer names
 * no extension, -1 when it is invalid (unknown extension or parameter, a duplicate, a
 * bad value, client_max_window_bits without a value or =8, the window zlib cannot
 * deflate with): the client then fails the connection (RFC 6455 9.1). */
int cora__ws_deflate_parse_answer(const char *answer, ws_deflate *out);

#endif
