/* src/core/stackuse.c: debug mode's stack high-water marks, per spawn site
 * (cora_debug_print_stacks in cora/debug.h; docs/debug.md, "Sizing stacks").
 *
 * How deep a task went is read from the kernel when it ends, at no cost while it
 * runs. Stacks are mapped with MAP_NORESERVE and the kernel commits a page only when
 * the task first touches it, so the lowest resident page of the stack is the deepest
 * point the task reached; mincore() lists which pages are resident, one system call
 * per 4 MiB of stack (one for the default 256 KiB).
 *
 * That needs each task to start on a stack with no page of an earlier task still
 * resident. Fresh stacks have none; pooled ones are reused, so in debug mode a stack
 * going back to the pool gives its touched pages back with madvise(MADV_DONTNEED),
 * all but the top one, which every task touches anyway; the next task on that stack
 * faults its pages in again (a zeroed page each), as on a new stack. The cost, in
 * debug mode only, measured on this machine (Release, 20,000 serial spawn+await,
 * debug mode on with and without this file): a task that stays in its top page pays
 * the mincore, 0.29 -> 1.75 us per task; a task 100 KiB deep also pays the madvise
 * and 26 page faults, 0.46 -> 43 us per task. Debug mode off, nothing here runs:
 * cora__debug_switch_out, which runs only in debug mode, calls in when a task ends.
 *
 * Limits: a page that was swapped out reads as untouched, so under memory pressure a
 * mark can come out low; a task that reads a page without writing it counts it (the
 * kernel maps the zero page, which is resident); and a transparent huge page would
 * make a whole 2 MiB look touched, which can happen only to stacks of 2 MiB or more,
 * only with THP set to "always", and only before Linux 6.7, which keeps MAP_STACK
 * mappings out of huge pages. Pages count whole, so a mark is a multiple of the page
 * size.
 *
 * The records live in the loop's stack pool, in a small open-addressed table keyed by
 * (spawn site, stack size): a program has few spawn sites, so the table stays small,
 * and a lookup is a hash and a probe or two per ended task.
 */
#include "cora/debug.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Bytes of s touched, counted from its top down to its lowest resident page; 0 if
 * mincore fails (then nothing is known and nothing is recorded). */
size_t cora__stack_used(const cora__stack *s, size_t page)
{
    unsigned char vec[1024]; /* one byte per page: 4 MiB of stack per call */
    size_t npages = s->size / page;
    char *lo = s->lo;
    for (size_t i = 0; i < npages;) {
        size_t n = npages - i < sizeof vec ? npages - i : sizeof vec;
        if (mincore(lo + i * page, n * page, vec) != 0) return 0;
        for (size_t k = 0; k < n; k++)
            if (vec[k] & 1) return s->size - (i + k) * page;
        i += n;
    }
    return 0;
}

static size_t slot_of(void *site, size_t size, size_t cap)
{
    uint64_t h = ((uint64_t)(uintptr_t)site ^ ((uint64_t)size << 17)) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static cora__stack_site *find(cora__stack_site *tab, size_t cap, void *site, size_t size)
{
    size_t i = slot_of(site, size, cap);
    while (tab[i].site && (tab[i].site != site || tab[i].stack_size != size))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Doubles the table (16 slots at first), keeping it at most half full. False if out
 * of memory: the sample is then lost, which debug mode can afford. */
static bool grow(cora__stack_pool *p)
{
    size_t cap = p->capsites ? p->capsites * 2 : 16;
    cora__stack_site *tab = cora__calloc(cap, sizeof *tab);
    if (!tab) return false;
    for (size_t i = 0; i < p->capsites; i++)
        if (p->sites[i].site)
            *find(tab, cap, p->sites[i].site, p->sites[i].stack_size) = p->sites[i];
    free(p->sites);
    p->sites = tab;
    p->capsites = cap;
    return true;
}

static void record(cora__stack_pool *p, void *site, size_t size, size_t used)
{
    if ((p->nsites + 1) * 2 > p->capsites && !grow(p)) return;
    cora__stack_site *e = find(p->sites, p->capsites, site, size);
    if (!e->site) {
        e->site = site;
        e->stack_size = size;
        p->nsites++;
    }
    e->tasks++;
    if (used > e->high_water) e->high_water = used;
}

/* Gives back the pages of s from `used` bytes below its top up to its top page. */
static void give_back(const cora__stack *s, size_t used, size_t page)
{
    if (used <= page) return;
    madvise((char *)s->lo + s->size - used, used - page, MADV_DONTNEED);
}

void cora__stack_note_end(cora_loop *loop, cora_task *t)
{
    cora__stack_pool *p = &loop->stacks;
    cora__stack *s = t->stack;
    size_t used = cora__stack_used(s, p->page);
    if (!used) return;
    /* A task spawned before debug mode was on has no site: its stack is cleaned for
     * the next task, but it has no row to count in. */
    if (t->spawn_site) record(p, t->spawn_site, s->size, used);
    if (cora__stack_will_pool(p, s)) give_back(s, used, p->page);
}

void cora__stack_pool_scrub(cora__stack_pool *p)
{
    for (cora__stack *s = p->free; s; s = s->next_free)
        give_back(s, cora__stack_used(s, p->page), p->page);
}

/* ---- cora_debug_print_stacks ------------------------------------------------------ */

/* Deepest first, relative to the stack: the rows to look at come on top. */
static int by_use(const void *a, const void *b)
{
    const cora__stack_site *x = *(cora__stack_site *const *)a, *y = *(cora__stack_site *const *)b;
    /* high_water / stack_size compared without division */
    unsigned __int128 l = (unsigned __int128)x->high_water * y->stack_size;
    unsigned __int128 r = (unsigned __int128)y->high_water * x->stack_size;
    if (l != r) return l > r ? -1 : 1;
    if (x->tasks != y->tasks) return x->tasks > y->tasks ? -1 : 1;
    return 0;
}

int cora_debug_print_stacks(FILE *out)
{
    cora_loop *loop = cora__tls_loop;
    if (!out) return -EINVAL;
    if (!loop) return -EPERM;
    cora__stack_pool *p = &loop->stacks;
    if (p->nsites == 0) {
        fprintf(out, "cora: stack use by spawn site: %s\n",
                loop->debug ? "no task has ended yet"
                            : "nothing recorded (debug mode is off: CORA_DEBUG=1 or "
                              "cora_debug_set turns it on)");
        return 0;
    }
    cora__stack_site **rows = cora__malloc(p->nsites * sizeof *rows);
    if (!rows) return -ENOMEM;
    size_t n = 0;
    uint64_t tasks = 0;
    for (size_t i = 0; i < p->capsites; i++) {
        if (!p->sites[i].site) continue;
        rows[n++] = &p->sites[i];
        tasks += p->sites[i].tasks;
    }
    qsort(rows, n, sizeof *rows, by_use);
    fprintf(out,
            "cora: stack use by spawn site, deepest first (%zu site%s, %llu task%s ended):\n"
            "  high-water  stack size   use     tasks  spawned at\n",
            n, n == 1 ? "" : "s", (unsigned long long)tasks, tasks == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        char where[512];
        cora__symbolize(where, sizeof where, rows[i]->site);
        fprintf(out, "  %6zu KiB  %6zu KiB  %3u%%  %8llu  %s\n", rows[i]->high_water / 1024,
                rows[i]->stack_size / 1024,
                (unsigned)(rows[i]->high_water * 100 / rows[i]->stack_size),
                (unsigned long long)rows[i]->tasks, where);
    }
    free(rows);
    return (int)n;
}
