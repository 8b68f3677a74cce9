/* tools/cora/serve.c: `cora serve`, a small HTTP server for trying things and for
 * tests: /hello, /echo, /delay, /health and static files, with graceful shutdown on
 * SIGINT or SIGTERM. */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int on_hello(cora_http_req *req, void *arg)
{
    (void)arg;
    return cora_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

static int on_health(cora_http_req *req, void *arg)
{
    (void)arg;
    return cora_http_respond(req, 200, "text/plain", "ok\n", 3);
}

/* POST /echo: the body back, with the request's Content-Type. */
static int on_echo(cora_http_req *req, void *arg)
{
    (void)arg;
    const char *body;
    ssize_t n = cora_http_req_body(req, &body);
    if (n < 0) return (int)n; /* 413 past the limit, 400 for a broken chunk */
    return cora_http_respond(req, 200, cora_http_req_header(req, "Content-Type"), body, (size_t)n);
}

/* GET /delay?ms=N: answers after N ms (0..60000); only this task waits. */
static int on_delay(cora_http_req *req, void *arg)
{
    (void)arg;
    char v[16];
    ssize_t n = cora_http_req_query_param(req, "ms", v, sizeof v);
    char *end = NULL;
    long ms = n > 0 ? strtol(v, &end, 10) : -1;
    if (n <= 0 || *end || ms < 0 || ms > 60000) {
        static const char msg[] = "ms must be an integer from 0 to 60000\n";
        return cora_http_respond(req, 400, "text/plain", msg, sizeof msg - 1);
    }
    int r = cora_sleep((double)ms / 1000.0);
    if (r < 0) return r;
    char body[64];
    int len = snprintf(body, sizeof body, "waited %ld ms\n", ms);
    return cora_http_respond(req, 200, "text/plain", body, (size_t)len);
}

int cora_tool_add_routes(cora_http_server *srv)
{
    int r = cora_http_server_route(srv, "GET", "/hello", on_hello, NULL);
    if (r == 0) r = cora_http_server_route(srv, "POST", "/echo", on_echo, NULL);
    if (r == 0) r = cora_http_server_route(srv, "GET", "/delay", on_delay, NULL);
    if (r == 0) r = cora_http_server_route(srv, "GET", "/health", on_health, NULL);
    return r;
}

/* Waits for SIGINT or SIGTERM, then shuts the server down gracefully. */
static void *signal_watch(void *arg)
{
    cora_http_server *srv = arg;
    static const int sigs[] = {SIGINT, SIGTERM};
    int s = cora_signal_wait(sigs, 2);
    if (s > 0) {
        fprintf(stderr, "cora serve: %s, finishing requests in flight\n",
                s == SIGINT ? "SIGINT" : "SIGTERM");
        cora_tool_close_ws(); /* chat members get 1001 instead of waiting out the grace */
        cora_http_server_shutdown(srv, 10.0);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cora serve [--host H] [--port P] [--root DIR] [--access-log]\n"
               "                  [--max-connections N]\n"
               "  GET /hello, POST /echo, GET /delay?ms=N, GET /health; WebSockets:\n"
               "  /ws echoes, GET /chat is a chat room (its socket: /chat/ws?nick=N);\n"
               "  other GETs are files under --root (none by default: 404). SIGINT or\n"
               "  SIGTERM stops it gracefully.\n");
}

int cora_tool_serve(int argc, char **argv)
{
    const char *host = "127.0.0.1", *root = NULL;
    long port = 8080;
    cora_http_server_opts o = {0};
    static const struct option longs[] = {{"host", required_argument, NULL, 'H'},
                                          {"port", required_argument, NULL, 'p'},
                                          {"root", required_argument, NULL, 'r'},
                                          {"access-log", no_argument, NULL, 'l'},
                                          {"max-connections", required_argument, NULL, 'm'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "H:p:r:lm:h", longs, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "cora serve: bad port '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r':
            root = optarg;
            break;
        case 'l':
            o.access_log = stderr;
            break;
        case 'm':
            o.max_connections = strtoul(optarg, &end, 10);
            if (*end || !o.max_connections) {
                fprintf(stderr, "cora serve: bad connection limit '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    cora_http_server *srv;
    int r = cora_http_server_new(&srv, &o);
    if (r == 0) r = cora_tool_add_routes(srv);
    if (r == 0) r = cora_tool_add_ws_routes(srv);
    if (r == 0 && root) {
        r = cora_http_server_static(srv, "/", root);
        if (r < 0) fprintf(stderr, "cora serve: --root %s: %s\n", root, cora_strerror(r));
    }
    int bound = r == 0 ? cora_http_server_listen(srv, host, (int)port) : r;
    if (bound < 0) {
        if (r == 0) fprintf(stderr, "cora serve: %s:%ld: %s\n", host, port, cora_strerror(bound));
        cora_http_server_free(srv);
        return 1;
    }
    int v6 = strchr(host, ':') != NULL;
    printf("listening on http://%s%s%s:%d/\n", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    fflush(stdout);
    cora_task *watch = cora_spawn(signal_watch, srv);
    r = cora_http_server_serve(srv);
    cora_cancel(watch);
    cora_await(watch, NULL);
    cora_http_server_free(srv);
    if (r < 0 && r != -ECANCELED) {
        fprintf(stderr, "cora serve: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}
