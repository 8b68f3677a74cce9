/* tests/http_vectors.c: see http_vectors.h. */
#include "http_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CORA_HTTP_VECTORS
#error "CORA_HTTP_VECTORS must name the directory of the JSON vectors"
#endif

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "vectors: %s: %s\n", what, detail);
    abort();
}

json_t *vec_load(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", CORA_HTTP_VECTORS, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) die(path, err.text);
    if (!json_is_array(j) || json_array_size(j) == 0) die(path, "not a non-empty array");
    return j;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static char *b64_decode(const char *s, size_t *n)
{
    size_t len = strlen(s);
    char *out = malloc(len / 4 * 3 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) die("base64", s);
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *n = o;
    return out;
}

char *vec_bytes(const json_t *s, size_t *n)
{
    if (!json_is_string(s)) return NULL;
    const unsigned char *u = (const unsigned char *)json_string_value(s);
    size_t len = json_string_length(s), o = 0;
    char *out = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned c = u[i];
        /* Code points up to U+00FF: one byte, or 0xC2/0xC3 and a continuation byte. */
        if (c >= 0x80) {
            if ((c != 0xc2 && c != 0xc3) || i + 1 >= len) die("latin-1 string", (const char *)u);
            c = ((c & 0x1f) << 6) | (u[++i] & 0x3f);
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *n = o;
    return out;
}

char *vec_input(const json_t *entry, size_t *n)
{
    const json_t *b64 = json_object_get(entry, "raw_b64");
    if (json_is_string(b64)) return b64_decode(json_string_value(b64), n);
    const json_t *gen = json_object_get(entry, "generate");
    if (!json_is_object(gen)) die("entry without raw_b64 or generate", vec_name(entry));
    size_t pn, rn, sn;
    char *pre = vec_bytes(json_object_get(gen, "prefix"), &pn);
    char *rep = vec_bytes(json_object_get(gen, "repeat"), &rn);
    char *suf = vec_bytes(json_object_get(gen, "suffix"), &sn);
    size_t times = (size_t)json_integer_value(json_object_get(gen, "times"));
    char *out = malloc(pn + rn * times + sn + 1);
    memcpy(out, pre, pn);
    for (size_t i = 0; i < times; i++)
        memcpy(out + pn + i * rn, rep, rn);
    memcpy(out + pn + rn * times, suf, sn);
    *n = pn + rn * times + sn;
    out[*n] = '\0';
    free(pre);
    free(rep);
    free(suf);
    return out;
}

int vec_equal(const json_t *s, const char *p, size_t n)
{
    size_t m;
    char *b = vec_bytes(s, &m);
    int eq = b && m == n && (n == 0 || memcmp(b, p, n) == 0);
    free(b);
    return eq;
}

int vec_equal_trimmed(const json_t *s, const char *p, size_t n)
{
    size_t m;
    char *b = vec_bytes(s, &m);
    if (!b) return 0;
    size_t i = 0;
    while (i < m && (b[i] == ' ' || b[i] == '\t'))
        i++;
    while (m > i && (b[m - 1] == ' ' || b[m - 1] == '\t'))
        m--;
    int eq = m - i == n && (n == 0 || memcmp(b + i, p, n) == 0);
    free(b);
    return eq;
}

const char *vec_name(const json_t *entry)
{
    const char *keys[] = {"name", "title"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(entry, keys[i]);
        if (json_is_string(v)) return json_string_value(v);
    }
    return "(unnamed)";
}
