/* examples/fetch3.c: the seed's opening example, in cora.
 *
 *     data1, data2, data3 = await asyncio.gather(
 *         fetch("https://api1.com"),
 *         fetch("https://api2.com"),
 *         fetch("https://api3.com"),
 *     )
 *
 * Usage: fetch3 [URL URL URL]. With no URLs it starts its own server on a loopback
 * port whose /slow endpoint answers after one second, so the three requests take
 * about 1 s together instead of 3 s one after another.
 */
#include <cora.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fetch(url): GET it and return the body (or fail with the error). */
static void *fetch(void *arg)
{
    cora_http_response resp;
    int err = cora_http_get(NULL, arg, &resp);
    if (err < 0) return cora_fail(err);
    printf("%s: %d, %zu bytes\n", resp.url, resp.status, resp.body_len);
    char *body = resp.body;
    resp.body = NULL; /* keep the body; free the rest */
    cora_http_response_free(&resp);
    return body;
}

/* The stand-in for a slow API: answers after one second. */
static int slow(cora_http_req *req, void *arg)
{
    (void)arg;
    int err = cora_sleep(1.0);
    if (err < 0) return err;
    return cora_http_respond(req, 200, "application/json", "{\"ok\": true}", 12);
}

static void *serve(void *srv)
{
    return (void *)(intptr_t)cora_http_server_serve(srv);
}

typedef struct args {
    int argc;
    char **argv;
} args;

static void *amain(void *arg)
{
    args *a = arg;
    cora_http_server *srv = NULL;
    cora_task *server = NULL;
    char urls[3][128];
    if (a->argc == 4) {
        for (int i = 0; i < 3; i++)
            snprintf(urls[i], sizeof urls[i], "%s", a->argv[i + 1]);
    } else {
        int err = cora_http_server_new(&srv, NULL);
        if (err == 0) err = cora_http_server_route(srv, "GET", "/slow", slow, NULL);
        int port = err == 0 ? cora_http_server_listen(srv, "127.0.0.1", 0) : err;
        if (port < 0) return cora_fail(port);
        server = cora_spawn(serve, srv);
        for (int i = 0; i < 3; i++)
            snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d/slow?api=%d", port, i + 1);
    }

    int64_t start = cora_now_ns();
    cora_task *tasks[3];
    for (int i = 0; i < 3; i++)
        tasks[i] = cora_spawn(fetch, urls[i]);
    cora_outcome out[3];
    int err = cora_gather(3, tasks, out, 0);
    printf("3 requests in %.2f s\n", (double)(cora_now_ns() - start) / 1e9);
    for (int i = 0; i < 3; i++) {
        if (out[i].status == 0)
            free(out[i].result); /* data1, data2, data3 */
        else
            fprintf(stderr, "%s: %s\n", urls[i], cora_strerror(out[i].status));
    }

    if (srv) {
        cora_http_server_shutdown(srv, 1.0);
        cora_await(server, NULL);
        cora_http_server_free(srv);
    }
    return err < 0 ? cora_fail(err) : NULL;
}

int main(int argc, char **argv)
{
    if (argc != 1 && argc != 4) {
        fprintf(stderr, "usage: fetch3 [URL URL URL]\n");
        return 2;
    }
    args a = {argc, argv};
    int err = cora_run(amain, &a, NULL);
    if (err < 0) {
        fprintf(stderr, "fetch3: %s\n", cora_strerror(err));
        return 1;
    }
    return 0;
}
