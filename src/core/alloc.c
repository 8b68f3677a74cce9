/* src/core/alloc.c: the allocation shim (see internal.h). */
#include "internal.h"

#include <stdlib.h>

__thread long cora__fail_alloc_at;

void *cora__malloc(size_t n)
{
    return cora__alloc_should_fail() ? NULL : malloc(n);
}

void *cora__calloc(size_t n, size_t size)
{
    return cora__alloc_should_fail() ? NULL : calloc(n, size);
}

void *cora__realloc(void *p, size_t n)
{
    return cora__alloc_should_fail() ? NULL : realloc(p, n);
}
