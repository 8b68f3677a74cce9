/* examples/curl_multi.c: a foreign non-blocking C library inside a task: libcurl's
 * multi interface, driven by cora_poll.
 *
 * libcurl (like libpq or hiredis) runs its own non-blocking sockets and says which
 * fds it wants to read or write and how long it may wait; a cora task asks it, waits
 * with cora_poll (which suspends only this task), and hands the results back. Every
 * transfer runs concurrently, and the loop stays free for other tasks.
 *
 *     curl_multi URL...    fetch the URLs at once
 *     curl_multi           fetch from a small local server three times at once; each
 *                          answer takes 0.3 s, so all three take about 0.3 s, not 0.9
 */
#include <cora.h>
#include <curl/curl.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- what libcurl asks for ------------------------------------------------------ */

enum { MAX_SOCKETS = 64 };

struct driver {
    CURLM *multi;
    struct pollfd fds[MAX_SOCKETS];
    int nfds;
    long timeout_ms; /* -1: none */
};

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct driver *d = userp;
    (void)easy;
    (void)socketp;
    int i = 0;
    while (i < d->nfds && d->fds[i].fd != s) i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < d->nfds) d->fds[i] = d->fds[--d->nfds];
        return 0;
    }
    if (i == d->nfds) {
        if (d->nfds == MAX_SOCKETS) return -1;
        d->nfds++;
    }
    d->fds[i].fd = s;
    d->fds[i].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    ((struct driver *)userp)->timeout_ms = timeout_ms;
    return 0;
}

/* Runs every transfer added to d->multi to its end. Returns 0 or a cora error. */
static int drive(struct driver *d)
{
    int running = 1;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    while (running > 0) {
        double timeout = d->timeout_ms < 0 ? 1.0 : d->timeout_ms / 1000.0;
        int n = cora_poll(d->fds, d->nfds, timeout); /* only this task waits */
        if (n < 0) return n;                          /* cancelled, or a deadline */
        if (n == 0) {
            curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            continue;
        }
        struct pollfd ready[MAX_SOCKETS];
        int nready = 0;
        for (int i = 0; i < d->nfds; i++)
            if (d->fds[i].revents) ready[nready++] = d->fds[i];
        for (int i = 0; i < nready; i++) {
            int ev = (ready[i].revents & POLLIN ? CURL_CSELECT_IN : 0) |
                     (ready[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
                     (ready[i].revents & (POLLERR | POLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(d->multi, ready[i].fd, ev, &running);
        }
    }
    return 0;
}

/* ---- the transfers -------------------------------------------------------------- */

struct transfer {
    const char *url;
    size_t bytes;
    long status;
    CURLcode result;
};

static size_t count_bytes(char *p, size_t size, size_t n, void *userp)
{
    (void)p;
    ((struct transfer *)userp)->bytes += size * n;
    return size * n;
}

static int fetch_all(struct transfer *t, int n)
{
    struct driver d = {.timeout_ms = -1};
    d.multi = curl_multi_init();
    curl_multi_setopt(d.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d.multi, CURLMOPT_SOCKETDATA, &d);
    curl_multi_setopt(d.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d.multi, CURLMOPT_TIMERDATA, &d);
    CURL **easy = calloc((size_t)n, sizeof *easy);
    for (int i = 0; i < n; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, t[i].url);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, count_bytes);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &t[i]);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &t[i]);
        curl_easy_setopt(easy[i], CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 30L);
        curl_multi_add_handle(d.multi, easy[i]);
    }
    int err = drive(&d);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d.multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            struct transfer *tr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&tr);
            tr->result = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &tr->status);
        }
    for (int i = 0; i < n; i++) {
        curl_multi_remove_handle(d.multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    free(easy);
    curl_multi_cleanup(d.multi);
    return err;
}

/* ---- a slow local server for the demo ------------------------------------------- */

static void *answer_slowly(void *arg)
{
    cora_stream *s = arg;
    const char *line;
    ssize_t n;
    while ((n = cora_stream_readline(s, &line)) > 2) { /* the request, to its blank line */
    }
    if (n >= 0 && cora_sleep(0.3) == 0) {
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                    "Content-Length: 13\r\nConnection: close\r\n\r\nHello, World!";
        cora_stream_write(s, reply, sizeof reply - 1);
        cora_stream_drain(s);
    }
    cora_stream_close(s);
    return NULL;
}

static void *serve(void *arg)
{
    int lfd = *(int *)arg, c;
    cora_group g;
    cora_group_init(&g);
    while ((c = cora_accept(lfd, NULL, NULL)) >= 0) {
        cora_stream *s;
        if (cora_stream_new(&s, c, NULL) == 0) cora_group_spawn(&g, answer_slowly, s, NULL);
    }
    cora_group_cancel(&g);
    cora_group_wait(&g);
    cora_group_destroy(&g);
    return NULL;
}

struct args {
    int argc;
    char **argv;
    int failed;
};

static void *amain(void *arg)
{
    struct args *a = arg;
    int n = a->argc - 1, lfd = -1;
    char url[64];
    cora_task *srv = NULL;
    if (n == 0) { /* the demo: three requests to our own slow server */
        lfd = cora_tcp_listen("127.0.0.1", 0, NULL);
        if (lfd < 0) return cora_fail(lfd);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", cora_socket_port(lfd));
        srv = cora_spawn(serve, &lfd);
        n = 3;
    }
    struct transfer *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) t[i].url = a->argc > 1 ? a->argv[i + 1] : url;
    int64_t t0 = cora_now_ns();
    int err = fetch_all(t, n);
    double secs = (double)(cora_now_ns() - t0) / 1e9;
    int ok = 0;
    for (int i = 0; i < n; i++) {
        printf("%s: %s, HTTP %ld, %zu bytes\n", t[i].url,
               t[i].result == CURLE_OK ? "ok" : curl_easy_strerror(t[i].result), t[i].status,
               t[i].bytes);
        ok += t[i].result == CURLE_OK && t[i].status / 100 == 2;
    }
    printf("%d of %d ok in %.2f s, all at once\n", ok, n, secs);
    a->failed = ok != n;
    free(t);
    if (srv) {
        cora_cancel(srv);
        cora_await(srv, NULL);
        close(lfd);
    }
    return err < 0 ? cora_fail(err) : NULL;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct args a = {argc, argv, 0};
    int err = cora_run(amain, &a, NULL);
    curl_global_cleanup();
    if (err < 0) {
        fprintf(stderr, "curl_multi: %s\n", cora_strerror(err));
        return 1;
    }
    return a.failed;
}
