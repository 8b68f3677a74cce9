/* examples/chat_room.c: a chat room on cora's WebSockets (see chat_room.h).
 *
 * Every text message of a member goes to all members as
 * {"type":"message","nick":...,"text":...}; joins and leaves are announced with the
 * member count. Each member is two tasks in a group, a reader and a writer: the writer
 * drains the member's bounded queue of outgoing messages, so a broadcast never waits
 * for anyone, and either task ending cancels the other.
 *
 * Policy for a member whose queue fills (it stopped reading, or reads slower than the
 * room talks): it is disconnected with close code 1008 "too slow"; the others never
 * wait and memory stays bounded. A queue holds up to QUEUE_DEPTH messages and
 * QUEUE_BYTES bytes: deep enough for a burst of short notices (a thousand members
 * joining at once), small in bytes.
 */
#include "chat_room.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_DEPTH 4096
#define QUEUE_BYTES (1u << 20)
#define MAX_TEXT 65536
#define MAX_NICK 32

/* One outgoing message, shared by every member's queue. */
typedef struct chat_msg {
    size_t refs, len;
    char text[];
} chat_msg;

typedef struct member {
    chat_room *room;
    struct member *prev, *next;
    cora_ws *ws;
    cora_queue *out;
    cora_group tasks; /* its reader and writer: either one ending cancels both */
    size_t queued;    /* bytes waiting in out */
    int dropped;      /* its queue overflowed: closed with 1008 */
    int going_away;   /* the room is closing: closed with 1001 */
    char nick[MAX_NICK + 1];
} member;

struct chat_room {
    member *members;
    size_t count;
    unsigned long guests;
};

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
static void broadcast(chat_room *rm, chat_msg *m)
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
            broadcast(mb->room, msg_new("message", mb->nick, m.data, m.len, -1));
    cora_group_cancel(&mb->tasks); /* the peer left: the writer goes too */
    return NULL;
}

/* The nick from ?nick=, cut to MAX_NICK bytes on a character boundary, or guest-N
 * when it is missing, too long to read, not UTF-8 or holds control characters. */
static void pick_nick(chat_room *rm, cora_http_req *req, char nick[MAX_NICK + 1])
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
        snprintf(nick, MAX_NICK + 1, "guest-%lu", ++rm->guests);
    }
}

int chat_room_handler(cora_http_req *req, void *arg)
{
    chat_room *rm = arg;
    member *mb = calloc(1, sizeof *mb);
    if (!mb) return -ENOMEM;
    mb->room = rm;
    pick_nick(rm, req, mb->nick);
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
    if (mb->dropped)
        cora_ws_close(mb->ws, 1008, "too slow");
    else if (mb->going_away)
        cora_ws_close(mb->ws, 1001, "server shutting down");
    else
        cora_ws_close(mb->ws, 1000, "");
    cora_ws_free(mb->ws);
    cora_queue_free(mb->out);
    free(mb);
    return 0;
}

chat_room *chat_room_new(void)
{
    return calloc(1, sizeof(chat_room));
}

size_t chat_room_members(const chat_room *rm)
{
    return rm->count;
}

void chat_room_close(chat_room *rm)
{
    for (member *mb = rm->members; mb; mb = mb->next) {
        mb->going_away = 1;
        cora_group_cancel(&mb->tasks);
    }
}

void chat_room_free(chat_room *rm)
{
    free(rm);
}
