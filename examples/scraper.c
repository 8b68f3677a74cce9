/* examples/scraper.c: "scraping multiple pages" from the seed's list of good fits.
 *
 * Usage: scraper URL [-d DEPTH] [-n N]
 *
 * Crawls pages breadth-first from URL, following links on the same host up to DEPTH
 * levels, with at most N requests in flight (a semaphore, as the seed's
 * asyncio.Semaphore). Each level's pages are fetched concurrently by a task group;
 * the links they hold make the next level.
 */
#include <cora.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct crawl {
    cora_sem limit; /* at most N requests at once */
    int in_flight, max_in_flight;
    char origin[256]; /* "http://host:port": links elsewhere are skipped */
    char **seen;      /* every URL queued so far (a linear scan: fine for an example) */
    size_t nseen;
    char **next; /* the next level's URLs */
    size_t nnext;
    size_t pages, errors;
} crawl;

typedef struct page {
    crawl *c;
    const char *url;
    int depth;
} page;

static int seen_before(crawl *c, const char *url)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (strcmp(c->seen[i], url) == 0) return 1;
    return 0;
}

/* Queues url for the next level unless it was seen. Takes ownership of url. */
static void queue(crawl *c, char *url)
{
    if (seen_before(c, url)) {
        free(url);
        return;
    }
    char **s = realloc(c->seen, (c->nseen + 1) * sizeof *s);
    char **n = s ? realloc(c->next, (c->nnext + 1) * sizeof *n) : NULL;
    if (s) c->seen = s;
    if (!n) {
        free(url);
        return;
    }
    c->next = n;
    c->seen[c->nseen++] = url;
    c->next[c->nnext++] = url;
}

/* Turns an href into an absolute URL on our origin, or NULL to skip it. */
static char *resolve(const crawl *c, const char *base, const char *href, size_t len)
{
    char *h = strndup(href, len);
    if (!h) return NULL;
    h[strcspn(h, "#")] = '\0'; /* fragments name the same page */
    char *out = NULL;
    if (strncmp(h, c->origin, strlen(c->origin)) == 0) {
        out = strdup(h);
    } else if (h[0] == '/' && h[1] != '/') {
        if (asprintf(&out, "%s%s", c->origin, h) < 0) out = NULL;
    } else if (h[0] && !strchr(h, ':') && h[0] != '/') { /* relative to base's directory */
        const char *slash = strrchr(base + strlen(c->origin), '/');
        int dir = slash ? (int)(slash - base) + 1 : (int)strlen(base);
        if (asprintf(&out, "%.*s%s", dir, base, h) < 0) out = NULL;
    }
    free(h);
    return out;
}

static void *fetch_page(void *arg)
{
    page *p = arg;
    crawl *c = p->c;
    int err = cora_sem_acquire(&c->limit); /* async with semaphore: */
    if (err < 0) return cora_fail(err);
    if (++c->in_flight > c->max_in_flight) c->max_in_flight = c->in_flight;
    cora_http_response resp;
    err = cora_http_get(NULL, p->url, &resp);
    c->in_flight--;
    cora_sem_release(&c->limit);
    if (err < 0) {
        printf("depth %d  ERR  %s (%s)\n", p->depth, p->url, cora_strerror(err));
        c->errors++;
        return NULL;
    }
    size_t links = 0;
    for (const char *s = resp.body; s && (s = strstr(s, "href=\"")) != NULL;) {
        s += 6;
        size_t n = strcspn(s, "\"");
        char *u = resolve(c, resp.url, s, n);
        if (u) {
            links++;
            queue(c, u);
        }
        s += n;
    }
    printf("depth %d  %d  %6zu bytes  %2zu links  %s\n", p->depth, resp.status, resp.body_len,
           links, p->url);
    c->pages++;
    cora_http_response_free(&resp);
    return NULL;
}

typedef struct args {
    const char *start;
    int depth, n;
} args;

static void *amain(void *arg)
{
    args *a = arg;
    crawl c = {0};
    cora_sem_init(&c.limit, (unsigned)a->n);
    const char *p = strstr(a->start, "://");
    size_t olen = p ? (size_t)(p + 3 - a->start) + strcspn(p + 3, "/") : 0;
    if (!p || olen >= sizeof c.origin) return cora_fail(-EINVAL);
    memcpy(c.origin, a->start, olen);
    char *first = strdup(a->start);
    if (!first) return cora_fail(-ENOMEM);
    queue(&c, first);
    int64_t t0 = cora_now_ns();
    for (int depth = 0; depth <= a->depth && c.nnext; depth++) {
        char **level = c.next; /* this level; links found go to a new list */
        size_t n = c.nnext;
        c.next = NULL;
        c.nnext = 0;
        page *pages = calloc(n, sizeof *pages);
        cora_group g;
        cora_group_init(&g);
        for (size_t i = 0; pages && i < n; i++) {
            pages[i] = (page){&c, level[i], depth};
            cora_group_spawn(&g, fetch_page, &pages[i], NULL);
        }
        cora_group_wait(&g);
        cora_group_destroy(&g);
        free(pages);
        free(level); /* the strings stay in c.seen */
    }
    printf("crawled %zu pages (%zu errors) in %.2f s, at most %d requests at a time\n", c.pages,
           c.errors, (double)(cora_now_ns() - t0) / 1e9, c.max_in_flight);
    for (size_t i = 0; i < c.nseen; i++)
        free(c.seen[i]);
    free(c.seen);
    free(c.next);
    return NULL;
}

int main(int argc, char **argv)
{
    args a = {NULL, 2, 4};
    int ch;
    while ((ch = getopt(argc, argv, "d:n:")) != -1) {
        if (ch == 'd')
            a.depth = atoi(optarg);
        else if (ch == 'n')
            a.n = atoi(optarg);
        else
            goto usage;
    }
    if (optind != argc - 1 || a.depth < 0 || a.n < 1) goto usage;
    a.start = argv[optind];
    int err = cora_run(amain, &a, NULL);
    if (err < 0) {
        fprintf(stderr, "scraper: %s\n", cora_strerror(err));
        return 1;
    }
    return 0;
usage:
    fprintf(stderr, "usage: scraper URL [-d DEPTH] [-n N]\n");
    return 2;
}
