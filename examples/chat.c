/* examples/chat.c: the seed's "chat applications, WebSockets", as a small program.
 *
 * A chat room (chat_room.c) on a WebSocket route: every member's messages go to all
 * members, a member that stops reading is dropped instead of slowing the others, and
 * Ctrl-C closes every member with 1001 and stops the server gracefully.
 *
 * Usage: chat [PORT]   (default 8080; 0 takes a free port). Then, for instance:
 *     cora ws 'ws://127.0.0.1:8080/chat?nick=alice'
 * in two terminals, or the page `cora serve` offers at /chat.
 */
#include <cora.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "chat_room.h"

typedef struct app {
    cora_http_server *srv;
    chat_room *room;
} app;

static int on_index(cora_http_req *req, void *arg)
{
    (void)arg;
    static const char text[] = "a chat room: connect a WebSocket to /chat?nick=NAME\n";
    return cora_http_respond(req, 200, "text/plain", text, sizeof text - 1);
}

/* The first SIGINT or SIGTERM: members get 1001, then the server drains and stops. */
static void *on_signal(void *arg)
{
    app *a = arg;
    static const int sigs[] = {SIGINT, SIGTERM};
    if (cora_signal_wait(sigs, 2) > 0) {
        printf("closing the room (%zu members)\n", chat_room_members(a->room));
        chat_room_close(a->room);
        cora_http_server_shutdown(a->srv, 5.0);
    }
    return NULL;
}

static void *serve(void *arg)
{
    int port = atoi(arg);
    app a = {0};
    int err = cora_http_server_new(&a.srv, NULL);
    if (err < 0) return cora_fail(err);
    a.room = chat_room_new();
    if (!a.room ||
        (err = cora_http_server_route(a.srv, "GET", "/chat", chat_room_handler, a.room)) < 0 ||
        (err = cora_http_server_route(a.srv, "GET", "/", on_index, NULL)) < 0 ||
        (err = cora_http_server_listen(a.srv, "127.0.0.1", port)) < 0) {
        fprintf(stderr, "chat: %s\n", cora_strerror(a.room ? err : -ENOMEM));
        chat_room_free(a.room);
        cora_http_server_free(a.srv);
        return cora_fail(a.room ? err : -ENOMEM);
    }
    printf("listening on http://127.0.0.1:%d/\n", err);
    fflush(stdout);
    cora_task *watch = cora_spawn(on_signal, &a);
    err = cora_http_server_serve(a.srv);
    cora_cancel(watch);
    cora_await(watch, NULL);
    cora_http_server_free(a.srv);
    chat_room_free(a.room);
    return err < 0 ? cora_fail(err) : NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int err = cora_run(serve, argc > 1 ? argv[1] : "8080", NULL);
    return err < 0 ? 1 : 0;
}
