/* tools/cora/chat.c: the WebSocket side of `cora serve`: GET /ws echoes every message,
 * GET /chat serves the chat page (chat_page.c) and /chat/ws is its room
 * (examples/chat_room.c, the same room as examples/chat.c). */
#include "tool.h"

#include <errno.h>

#include "chat_room.h"

extern const char cora_chat_page[];
extern const size_t cora_chat_page_len;

static chat_room *the_room;

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

static int on_chat_page(cora_http_req *req, void *arg)
{
    (void)arg;
    return cora_http_respond(req, 200, "text/html; charset=utf-8", cora_chat_page,
                             cora_chat_page_len);
}

int cora_tool_add_ws_routes(cora_http_server *srv)
{
    if (!the_room && !(the_room = chat_room_new())) return -ENOMEM;
    int r = cora_http_server_route(srv, "GET", "/ws", on_ws_echo, NULL);
    if (r == 0) r = cora_http_server_route(srv, "GET", "/chat", on_chat_page, NULL);
    if (r == 0) r = cora_http_server_route(srv, "GET", "/chat/ws", chat_room_handler, the_room);
    return r;
}

void cora_tool_close_ws(void)
{
    if (the_room) chat_room_close(the_room);
}
