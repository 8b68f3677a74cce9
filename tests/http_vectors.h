/* tests/http_vectors.h: reading the JSON conformance vectors in tests/vectors/.
 *
 * Wire bytes in those files are JSON strings with one code point per byte (latin-1),
 * plus raw_b64 with the exact bytes; jansson hands strings out as UTF-8, so these
 * helpers turn them back into bytes. Failures to read a file abort: a test that
 * silently checked nothing would pass vacuously.
 */
#ifndef CORA_TEST_HTTP_VECTORS_H
#define CORA_TEST_HTTP_VECTORS_H

#include <jansson.h>
#include <stddef.h>

/* Loads tests/vectors/<name> (the directory comes from CORA_HTTP_VECTORS). */
json_t *vec_load(const char *name);

/* The bytes of a latin-1 JSON string (malloc'd, NUL-terminated), or NULL if `s` is
 * not a string. */
char *vec_bytes(const json_t *s, size_t *n);

/* The input of an entry: raw_b64, or prefix + repeat * times + suffix for the
 * entries with `generate`. */
char *vec_input(const json_t *entry, size_t *n);

/* Whether the latin-1 JSON string `s` holds exactly p[0..n). */
int vec_equal(const json_t *s, const char *p, size_t n);

/* The same, ignoring whitespace (SP, HTAB) around the value in `s`. */
int vec_equal_trimmed(const json_t *s, const char *p, size_t n);

/* The file name of the JSON entry's own source, for messages. */
const char *vec_name(const json_t *entry);

#endif
