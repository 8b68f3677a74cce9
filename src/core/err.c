/* src/core/err.c: naming errors. cora reports errors as negative errno values;
 * these turn them into text. */
#include "internal.h"

#include <string.h>

const char *cora_strerror(int err)
{
    if (err < 0) err = -err;
    /* strerror is not thread-safe in general, but glibc's returns static strings for
     * every known value; strerrordesc_np says so explicitly. */
    const char *s = strerrordesc_np(err);
    return s ? s : "Unknown error";
}

const char *cora_err_name(int err)
{
    if (err < 0) err = -err;
    const char *s = strerrorname_np(err);
    return s ? s : "E?";
}
