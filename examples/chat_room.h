/* examples/chat_room.h: a chat room on cora's WebSockets, used by examples/chat.c and
 * by `cora serve` (its /chat/ws). Built on the public API only.
 *
 * Protocol: a member connects to the room's route with ?nick=NAME (cut to 32 bytes;
 * guest-N when missing or not printable UTF-8) and sends plain text messages. It
 * receives JSON text messages: {"type":"join","nick":N,"members":C} when anyone joins
 * (itself first), {"type":"message","nick":N,"text":T} for every message (its own
 * too), {"type":"leave","nick":N,"members":C} when anyone leaves.
 */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include <cora.h>

typedef struct chat_room chat_room;

/* An empty room, or NULL when out of memory. */
chat_room *chat_room_new(void);

/* An HTTP handler (arg: the room) that upgrades the request to a WebSocket and keeps
 * it in the room until it leaves. Register it with cora_http_server_route. */
int chat_room_handler(cora_http_req *req, void *arg);

/* How many members are in the room now. */
size_t chat_room_members(const chat_room *rm);

/* Closes every member's connection with 1001 (for a graceful shutdown: the HTTP
 * server then finds no handler still running). */
void chat_room_close(chat_room *rm);

/* Frees an empty room (after the server stopped). */
void chat_room_free(chat_room *rm);

#endif
