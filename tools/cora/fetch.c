/* tools/cora/fetch.c: `cora fetch`, many URLs at once.
 *
 * N worker tasks take URLs in turn from one list and share one client (its
 * keep-alive pool), so a million URLs cost N tasks, not a million. With no URL it runs
 * the seed's demo: three requests that each take a second, one after another and
 * then with gather, against a server it starts itself.
 */
#include "tool.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

double cora_tool_since(int64_t t0)
{
    return (double)(cora_now_ns() - t0) / 1e9;
}

typedef struct job {
    const char *url;
    int status; /* HTTP status, or 0 */
    int err;    /* a cora error, or 0 */
    size_t bytes;
    double seconds;
    char *file; /* with -o */
} job;

typedef struct fetch_run {
    cora_http_client *client;
    job *jobs;
    size_t njobs, next, done, ok;
    size_t bytes;
    const char *outdir;
    int progress;
} fetch_run;

/* ---- saving bodies -------------------------------------------------------------- */

/* A file name from a URL: its host and path with anything unusual as '_'. */
static char *name_for(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    char base[200];
    size_t n = 0;
    for (; *p && n < sizeof base - 1; p++)
        base[n++] = isalnum((unsigned char)*p) || strchr(".-", *p) ? *p : '_';
    while (n && base[n - 1] == '_')
        n--; /* "host/" is "host", not "host_" */
    base[n] = '\0';
    return strdup(n ? base : "index");
}

typedef struct file_sink {
    int fd;
} file_sink;

static int write_to_file(void *arg, const void *data, size_t len)
{
    file_sink *fs = arg;
    const char *p = data;
    while (len) {
        ssize_t w = cora_file_write(fs->fd, p, len);
        if (w < 0) return (int)w;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Opens a new file in dir for job j (a suffix keeps names unique). */
static int open_output(const char *dir, job *j)
{
    char *base = name_for(j->url);
    if (!base) return -ENOMEM;
    for (int k = 0; k < 1000; k++) {
        char *path;
        if ((k ? asprintf(&path, "%s/%s.%d", dir, base, k) : asprintf(&path, "%s/%s", dir, base)) <
            0)
            break;
        int fd = cora_open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            free(base);
            j->file = path;
            return fd;
        }
        free(path);
        if (fd != -EEXIST) {
            free(base);
            return fd;
        }
    }
    free(base);
    return -EEXIST;
}

/* ---- workers -------------------------------------------------------------------- */

static void fetch_one(fetch_run *run, job *j)
{
    int64_t t0 = cora_now_ns();
    cora_http_request_opts req = {.url = j->url};
    file_sink fs = {-1};
    if (run->outdir) {
        fs.fd = open_output(run->outdir, j);
        if (fs.fd < 0) {
            j->err = fs.fd;
            return;
        }
        req.sink = write_to_file;
        req.sink_arg = &fs;
    }
    cora_http_response resp;
    int r = cora_http_request(run->client, &req, &resp);
    if (fs.fd >= 0) cora_close(fs.fd);
    j->seconds = cora_tool_since(t0);
    if (r < 0) {
        j->err = r;
        return;
    }
    j->status = resp.status;
    j->bytes = resp.body_len;
    cora_http_response_free(&resp);
}

static void *worker(void *arg)
{
    fetch_run *run = arg;
    while (run->next < run->njobs) {
        size_t i = run->next++;
        fetch_one(run, &run->jobs[i]);
        job *j = &run->jobs[i];
        run->done++;
        run->bytes += j->bytes;
        if (!j->err && j->status >= 200 && j->status < 300) run->ok++;
    }
    return NULL;
}

/* The live progress line, on a terminal only. */
static void *progress(void *arg)
{
    fetch_run *run = arg;
    for (;;) {
        fprintf(stderr, "\r\033[K%zu/%zu done, %zu ok, %.1f KiB", run->done, run->njobs, run->ok,
                (double)run->bytes / 1024);
        fflush(stderr);
        if (cora_sleep(0.1) < 0) break;
    }
    fprintf(stderr, "\r\033[K");
    return NULL;
}

/* ---- the URL list --------------------------------------------------------------- */

static int add_url(job **jobs, size_t *n, size_t *cap, const char *url)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        job *j = realloc(*jobs, c * sizeof *j);
        if (!j) return -ENOMEM;
        *jobs = j;
        *cap = c;
    }
    memset(&(*jobs)[*n], 0, sizeof **jobs);
    (*jobs)[(*n)++].url = url;
    return 0;
}

/* Reads URLs from stdin, one per line (blank lines and '#' comments skipped). The
 * strings are kept in *lines for the run's lifetime. */
static int read_stdin_urls(job **jobs, size_t *n, size_t *cap, char ***lines, size_t *nlines)
{
    char *line = NULL;
    size_t len = 0;
    ssize_t got;
    while ((got = getline(&line, &len, stdin)) >= 0) {
        while (got && isspace((unsigned char)line[got - 1]))
            line[--got] = '\0';
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#') continue;
        char *copy = strdup(s);
        char **l = realloc(*lines, (*nlines + 1) * sizeof *l);
        if (!copy || !l) {
            free(copy);
            free(line);
            if (l) *lines = l;
            return -ENOMEM;
        }
        *lines = l;
        l[(*nlines)++] = copy;
        if (add_url(jobs, n, cap, copy) < 0) {
            free(line);
            return -ENOMEM;
        }
    }
    free(line);
    return 0;
}

/* ---- the seed's demo ------------------------------------------------------------ */

static void *serve_task(void *arg)
{
    return (void *)(intptr_t)cora_http_server_serve(arg);
}

static void *get_task(void *arg)
{
    cora_http_response resp;
    int r = cora_http_get(NULL, arg, &resp);
    if (r < 0) return cora_fail(r);
    int status = resp.status;
    cora_http_response_free(&resp);
    return status == 200 ? NULL : cora_fail(-EPROTO);
}

static int demo(void)
{
    cora_http_server *srv;
    int r = cora_http_server_new(&srv, NULL);
    if (r == 0) r = cora_tool_add_routes(srv);
    int port = r == 0 ? cora_http_server_listen(srv, "127.0.0.1", 0) : r;
    if (port < 0) {
        fprintf(stderr, "cora fetch: cannot start the demo server: %s\n", cora_strerror(port));
        cora_http_server_free(srv);
        return 1;
    }
    cora_task *server = cora_spawn(serve_task, srv);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/delay?ms=1000", port);
    printf("The seed's demo: three requests to %s,\n"
           "an endpoint of a local server that answers after one second.\n\n",
           url);
    fflush(stdout);

    int failed = 0;
    int64_t t0 = cora_now_ns();
    for (int i = 0; i < 3; i++) { /* data1 = fetch(...); data2 = ...; data3 = ... */
        cora_http_response resp;
        int e = cora_http_get(NULL, url, &resp);
        if (e < 0 || resp.status != 200) failed = 1;
        if (e == 0) cora_http_response_free(&resp);
    }
    double seq = cora_tool_since(t0);
    printf("one after another:  %.2f s\n", seq);
    fflush(stdout);

    t0 = cora_now_ns();
    cora_task *tasks[3];
    for (int i = 0; i < 3; i++)
        tasks[i] = cora_spawn(get_task, url);
    cora_outcome out[3];
    if (cora_gather(3, tasks, out, 0) < 0) failed = 1;
    double conc = cora_tool_since(t0);
    printf("with cora_gather:   %.2f s\n", conc);
    printf("speed-up:           %.1fx\n", seq / conc);

    cora_http_server_shutdown(srv, 1.0);
    cora_await(server, NULL);
    cora_http_server_free(srv);
    if (failed) fprintf(stderr, "cora fetch: a demo request failed\n");
    return failed;
}

/* ---- the command ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: cora fetch [-c N] [-o DIR] [--timeout S] [--sequential] URL...\n"
               "  Fetches every URL, at most N at a time (default 32); '-' reads URLs from\n"
               "  stdin. -o saves each body in DIR. Exit status 0 only if every URL gave 2xx.\n"
               "  With no URL: the seed's demo (three one-second requests, in turn, then\n"
               "  with gather).\n");
}

int cora_tool_fetch(int argc, char **argv)
{
    long conc = 32;
    double timeout = 0;
    const char *outdir = NULL;
    static const struct option longs[] = {{"concurrency", required_argument, NULL, 'c'},
                                          {"output", required_argument, NULL, 'o'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"sequential", no_argument, NULL, 's'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+c:o:t:sh", longs, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'c':
            conc = strtol(optarg, &end, 10);
            if (*end || conc < 1 || conc > 100000) {
                fprintf(stderr, "cora fetch: -c wants a number from 1 to 100000\n");
                return 2;
            }
            break;
        case 'o':
            outdir = optarg;
            break;
        case 't':
            if (cora_tool_seconds("fetch", "--timeout", optarg, 0, &timeout) < 0) return 2;
            break;
        case 's':
            conc = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind == argc) return demo();
    if (outdir) {
        struct stat st;
        if (stat(outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "cora fetch: -o %s: not a directory\n", outdir);
            return 2;
        }
    }

    fetch_run run = {.outdir = outdir};
    size_t cap = 0, nlines = 0;
    char **lines = NULL;
    int r = 0;
    for (int i = optind; i < argc && r == 0; i++)
        r = strcmp(argv[i], "-") == 0
                ? read_stdin_urls(&run.jobs, &run.njobs, &cap, &lines, &nlines)
                : add_url(&run.jobs, &run.njobs, &cap, argv[i]);
    cora_http_client_opts co = {.max_concurrent = (size_t)conc,
                                .max_idle_per_host = (size_t)conc,
                                .total_timeout = timeout};
    if (r == 0) r = cora_http_client_new(&run.client, &co);
    if (r < 0) {
        fprintf(stderr, "cora fetch: %s\n", cora_strerror(r));
        return 1;
    }

    int64_t t0 = cora_now_ns();
    cora_task *bar = isatty(2) ? cora_spawn(progress, &run) : NULL;
    cora_group g;
    cora_group_init(&g);
    size_t workers = run.njobs < (size_t)conc ? run.njobs : (size_t)conc;
    for (size_t i = 0; i < workers; i++)
        cora_group_spawn(&g, worker, &run, NULL);
    int gr = cora_group_wait(&g);
    cora_group_destroy(&g);
    if (bar) {
        cora_cancel(bar);
        cora_await(bar, NULL);
    }
    double total = cora_tool_since(t0);

    size_t bytes = 0;
    for (size_t i = 0; i < run.njobs; i++) {
        job *j = &run.jobs[i];
        bytes += j->bytes;
        if (j->err)
            printf("ERR  %9s  %6.3f s  %s  (%s)\n", "-", j->seconds, j->url, cora_strerror(j->err));
        else if (j->seconds || j->status)
            printf("%3d  %9zu  %6.3f s  %s%s%s\n", j->status, j->bytes, j->seconds, j->url,
                   j->file ? "  -> " : "", j->file ? j->file : "");
        else
            printf("---  %9s  %6s    %s  (not fetched)\n", "-", "-", j->url);
        free(j->file);
    }
    printf("%zu URLs, %zu ok (2xx), %zu bytes in %.3f s with at most %ld at a time\n", run.njobs,
           run.ok, bytes, total, conc);
    int status = run.ok == run.njobs && gr == 0 ? 0 : 1;
    cora_http_client_free(run.client);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(run.jobs);
    return status;
}
