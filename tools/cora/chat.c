/* tools/cora/chat.c: the WebSocket side of `cora serve`: GET /ws echoes every message,
 * GET /chat serves the chat page and /chat/ws is its room.
 *
 * The room: every text message of a member goes to all members as
 * {"type":"message","nick":...,"text":...}; joins and leaves are announced with the
 * member count. Each member has a writer task draining a bounded queue of outgoing
 * messages, so a broadcast never waits for anyone. Policy for a member whose queue
 * fills (it stopped reading, or reads slower than the room talks): it is disconnected
 * with close code 1008 "too slow"; the others never wait and memory stays bounded. A
 * queue holds up to QUEUE_DEPTH messages and QUEUE_BYTES bytes: deep enough for a
 * burst of short notices (a thousand members joining at once), small in bytes.
 */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_DEPTH 4096
#define QUEUE_BYTES (1u << 20)
#define MAX_TEXT 65536
#define MAX_NICK 32

extern const char cora_chat_page[];
extern const size_t cora_chat_page_len;

/* ---- GET /ws: echo ---------------------------------------------------------------- */

static int on_ws_echo(cora_http_req *req, void *arg)
{
    (void)arg;
    cora_ws_opts o = {.permessage_deflate = 1};
    cora_ws *ws;
    if (cora_ws_accept(req, &o, &ws) < 0) return 0; /* answered with 400 or 426 */
    cora_ws_msg m;
    int r;
    while ((r = cora_ws_recv(ws, &m)) == 0 && (r = cora_ws_send(ws, m.type, m.data, m.len)) == 0) {
    }
    cora_ws_free(ws);
    return 0;
}

/* ---- the room --------------------------------------------------------------------- */

/* One outgoing message, shared by every member's queue. */
typedef struct chat_msg {
    size_t refs, len;
    char text[];
} chat_msg;

typedef struct member {
    struct member *prev, *next;
    cora_ws *ws;
    cora_queue *out;
    cora_group tasks; /* its reader and writer: either one ending cancels both */
    size_t queued;    /* bytes waiting in out */
    int dropped;
    char nick[MAX_NICK + 1];
} member;

typedef struct room {
    member *members;
    size_t count;
    unsigned long guests;
} room;

static room the_room;

static void msg_unref(void *item, void *ctx)
{
    (void)ctx;
    chat_msg *m = item;
    if (--m->refs == 0) free(m);
}

/* Appends s[0..n) as a JSON string body (without quotes). */
static size_t json_escape(char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* {"type":T,"nick":N[,"text":X][,"members":C]}: refcount 1, the caller's. */
static chat_msg *msg_new(const char *type, const char *nick, const char *text, size_t tlen,
                         long members)
{
    size_t nlen = strlen(nick);
    chat_msg *m = malloc(sizeof *m + 64 + 6 * (nlen + tlen) + 32);
    if (!m) return NULL;
    char *p = m->text;
    p += sprintf(p, "{\"type\":\"%s\",\"nick\":\"", type);
    p += json_escape(p, nick, nlen);
    *p++ = '"';
    if (text) {
        p += sprintf(p, ",\"text\":\"");
        p += json_escape(p, text, tlen);
        *p++ = '"';
    }
    if (members >= 0) p += sprintf(p, ",\"members\":%ld", members);
    *p++ = '}';
    m->len = (size_t)(p - m->text);
    m->refs = 1;
    return m;
}

/* Queues m for every member without waiting; a member with a full queue is dropped. */
static void broadcast(room *rm, chat_msg *m)
{
    if (!m) return;
    for (member *mb = rm->members; mb; mb = mb->next) {
        if (mb->dropped) continue;
        if (mb->queued + m->len > QUEUE_BYTES || cora_queue_tryput(mb->out, m) < 0) {
            mb->dropped = 1; /* its handler closes it with 1008 */
            cora_group_cancel(&mb->tasks);
            continue;
        }
        m->refs++;
        mb->queued += m->len;
    }
    msg_unref(m, NULL);
}

static void *member_writer(void *arg)
{
    member *mb = arg;
    void *item;
    while (cora_queue_get(mb->out, &item) == 0) {
        chat_msg *m = item;
        mb->queued -= m->len;
        int r = cora_ws_send(mb->ws, CORA_WS_TEXT, m->text, m->len);
        msg_unref(m, NULL);
        if (r < 0) break;
    }
    cora_group_cancel(&mb->tasks); /* it cannot send: the reader goes too */
    return NULL;
}

static void *member_reader(void *arg)
{
    member *mb = arg;
    cora_ws_msg m;
    while (cora_ws_recv(mb->ws, &m) == 0)
        if (m.type == CORA_WS_TEXT)
            broadcast(&the_room, msg_new("message", mb->nick, m.data, m.len, -1));
    cora_group_cancel(&mb->tasks); /* the peer left: the writer goes too */
    return NULL;
}

/* The nick from ?nick=, cut to MAX_NICK bytes on a character boundary, or guest-N
 * when it is missing, too long to read, not UTF-8 or holds control characters. */
static void pick_nick(cora_http_req *req, char nick[MAX_NICK + 1])
{
    char v[256];
    ssize_t n = cora_http_req_query_param(req, "nick", v, sizeof v);
    if (n > MAX_NICK) {
        n = MAX_NICK;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--; /* v[n] continues a character: cut before that character */
    }
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) n = 0;
    if (n > 0 && cora_utf8_valid(v, (size_t)n)) {
        memcpy(nick, v, (size_t)n);
        nick[n] = '\0';
    } else {
        snprintf(nick, MAX_NICK + 1, "guest-%lu", ++the_room.guests);
    }
}

static int on_chat_ws(cora_http_req *req, void *arg)
{
    (void)arg;
    room *rm = &the_room;
    member *mb = calloc(1, sizeof *mb);
    if (!mb) return -ENOMEM;
    pick_nick(req, mb->nick);
    cora_ws_opts o = {.max_message = MAX_TEXT, .permessage_deflate = 1, .close_timeout = 2.0};
    cora_queue_opts qo = {.maxsize = QUEUE_DEPTH};
    int r = cora_queue_new(&mb->out, &qo);
    if (r < 0 || cora_ws_accept(req, &o, &mb->ws) < 0) {
        if (mb->out) cora_queue_free(mb->out);
        free(mb);
        return r < 0 ? r : 0;
    }
    r = cora_group_init(&mb->tasks);
    if (r == 0) {
        mb->next = rm->members;
        if (mb->next) mb->next->prev = mb;
        rm->members = mb;
        rm->count++;
        broadcast(rm, msg_new("join", mb->nick, NULL, 0, (long)rm->count));
        cora_group_spawn(&mb->tasks, member_reader, mb, NULL);
        cora_group_spawn(&mb->tasks, member_writer, mb, NULL);
        cora_group_wait(&mb->tasks);
        cora_group_destroy(&mb->tasks);
        if (mb->prev)
            mb->prev->next = mb->next;
        else
            rm->members = mb->next;
        if (mb->next) mb->next->prev = mb->prev;
        rm->count--;
        broadcast(rm, msg_new("leave", mb->nick, NULL, 0, (long)rm->count));
    }
    cora_queue_shutdown_now(mb->out, msg_unref, NULL);
    cora_ws_close(mb->ws, mb->dropped ? 1008 : 1000, mb->dropped ? "too slow" : "");
    cora_ws_free(mb->ws);
    cora_queue_free(mb->out);
    free(mb);
    return 0;
}

static int on_chat_page(cora_http_req *req, void *arg)
{
    (void)arg;
    return cora_http_respond(req, 200, "text/html; charset=utf-8", cora_chat_page,
                             cora_chat_page_len);
}

int cora_tool_add_ws_routes(cora_http_server *srv)
{
    int r = cora_http_server_route(srv, "GET", "/ws", on_ws_echo, NULL);
    if (r == 0) r = cora_http_server_route(srv, "GET", "/chat", on_chat_page, NULL);
    if (r == 0) r = cora_http_server_route(srv, "GET", "/chat/ws", on_chat_ws, NULL);
    return r;
}
