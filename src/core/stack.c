/* src/core/stack.c: task stacks.
 *
 * Each stack is its own anonymous mapping, reserved with MAP_NORESERVE so that the
 * kernel commits a page only when the task first touches it: a task sleeping in a
 * shallow call chain costs one page of memory whatever its stack size.
 *
 * Guard pages. The lowest page of each mapping is a guard, so an overflow faults
 * instead of writing over a neighbour. Two ways to make it:
 *   - madvise(MADV_GUARD_INSTALL), Linux 6.13 and later: the guard lives in the page
 *     tables, the mapping stays one VMA, and adjacent stacks may even merge. No limit
 *     but memory.
 *   - mprotect(PROT_NONE) elsewhere: the guard is a VMA of its own and splits the
 *     stack's mapping, so each guarded stack costs two of the process's
 *     vm.max_map_count mappings (65530 by default): about 32k guarded stacks, the wall
 *     libdill and state-threads hit. We keep a budget of half of what is left of
 *     max_map_count at loop start, less a margin for the program's own mappings.
 *     Past the budget, stacks come without a guard: spawning keeps working (a million
 *     tasks must), and debug mode says once that guards ran out. docs/stacks.md has
 *     the policy.
 *
 * The pool keeps up to `max_free` stacks of the default size for reuse, so a busy
 * spawn/await loop costs no system call. Other sizes are unmapped on release.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; Debian 12's headers predate it */
#endif

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORA__VALGRIND 1
#endif

#define POOL_MAX_FREE 1024
#define MAP_COUNT_MARGIN 4096 /* mappings left for the program's own use */

static long read_max_map_count(void)
{
    long v = 65530; /* the kernel's default, if /proc is unreadable */
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = 65530;
        fclose(f);
    }
    return v;
}

/* Does this kernel have MADV_GUARD_INSTALL? Try it on a scratch page. */
static int probe_guard_mode(size_t page)
{
    void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return CORA__GUARD_MPROTECT;
    int ok = madvise(p, page, MADV_GUARD_INSTALL) == 0;
    munmap(p, 2 * page);
    return ok ? CORA__GUARD_MADVISE : CORA__GUARD_MPROTECT;
}

int cora__stack_pool_init(cora__stack_pool *p)
{
    p->free = NULL;
    p->nfree = 0;
    p->max_free = POOL_MAX_FREE;
    p->page = (size_t)sysconf(_SC_PAGESIZE);
    p->guard_mode = probe_guard_mode(p->page);
    /* CORA_GUARD=mprotect forces the older path, so tests cover it on new kernels. */
    const char *force = getenv("CORA_GUARD");
    if (force && force[0] == 'm' && force[1] == 'p') p->guard_mode = CORA__GUARD_MPROTECT;
    long max = read_max_map_count();
    p->mprotect_budget = max > MAP_COUNT_MARGIN ? (size_t)(max - MAP_COUNT_MARGIN) / 2 : 0;
    p->unguarded = 0;
    p->live = 0;
    p->sites = NULL;
    p->nsites = p->capsites = 0;
    return 0;
}

static void stack_unmap(cora__stack_pool *p, cora__stack *s)
{
#ifdef CORA__VALGRIND
    VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
    if (s->guard == CORA__GUARD_MPROTECT) p->mprotect_budget++;
    munmap(s->map, s->map_size);
    cora__census_now.stacks--;
    free(s);
}

void cora__stack_pool_close(cora__stack_pool *p)
{
    while (p->free) {
        cora__stack *s = p->free;
        p->free = s->next_free;
        stack_unmap(p, s);
    }
    p->nfree = 0;
    free(p->sites);
    p->sites = NULL;
    p->nsites = p->capsites = 0;
}

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

cora__stack *cora__stack_get(cora__stack_pool *p, size_t size)
{
    if (size == 0) size = CORA_STACK_DEFAULT;
    if (size < CORA_STACK_MIN) size = CORA_STACK_MIN;
    size = round_up(size, p->page);
    if (size == CORA_STACK_DEFAULT && p->free) {
        cora__stack *s = p->free;
        p->free = s->next_free;
        p->nfree--;
        p->live++;
        return s;
    }
    cora__stack *s = cora__malloc(sizeof *s);
    if (!s) return NULL;
    s->map_size = size + p->page;
    s->map = cora__alloc_should_fail() ? MAP_FAILED : mmap(NULL, s->map_size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (s->map == MAP_FAILED) {
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    cora__census_now.stacks++;
    s->lo = (char *)s->map + p->page;
    s->size = size;
    s->guard = CORA__GUARD_NONE;
    if (p->guard_mode == CORA__GUARD_MADVISE && madvise(s->map, p->page, MADV_GUARD_INSTALL) == 0)
        s->guard = CORA__GUARD_MADVISE;
    else if (p->mprotect_budget > 0 && mprotect(s->map, p->page, PROT_NONE) == 0) {
        s->guard = CORA__GUARD_MPROTECT;
        p->mprotect_budget--;
    } else
        p->unguarded++;
#ifdef CORA__VALGRIND
    s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s->lo + s->size);
#endif
    s->next_free = NULL;
    p->live++;
    return s;
}

void cora__stack_put(cora__stack_pool *p, cora__stack *s)
{
    p->live--;
    if (cora__stack_will_pool(p, s)) {
        s->next_free = p->free;
        p->free = s;
        p->nfree++;
        return;
    }
    stack_unmap(p, s);
}
