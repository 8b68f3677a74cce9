/* fuzz/fuzz_url.c: the URL splitter. Spans must lie inside the input, in order and
 * without overlap; what a URL is must not depend on anything but its bytes; and the
 * head parser must accept a request line with the URL as its target exactly when
 * the splitter accepts the URL (CONNECT with the authority form). */
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spans(const http_url *u, const char *p, size_t n)
{
    const http_span *s[] = {&u->scheme, &u->userinfo, &u->host, &u->path, &u->query, &u->fragment};
    const char *prev = p;
    for (size_t i = 0; i < 6; i++) {
        if (s[i]->len == 0) continue;
        if (s[i]->ptr < prev || s[i]->ptr + s[i]->len > p + n)
            fuzz_fail("url", "a span outside the input or out of order");
        prev = s[i]->ptr + s[i]->len;
    }
    if (u->port < 0 || u->port > 65535) fuzz_fail("url", "port out of range");
    for (size_t i = 0; i < u->scheme.len; i++) {
        char c = (char)(u->scheme.ptr[i] | 0x20);
        if (c < 'a' || c > 'z') fuzz_fail("url", "scheme with a non-letter");
    }
    if ((u->scheme.len || u->userinfo.len) && !u->host.len) fuzz_fail("url", "no host");
}

static int split(const char *in, size_t n, int connect, http_url *u)
{
    const char *p = guard_place(fuzz_guard(n), in, n);
    int r = cora__http_parse_url(p, n, connect, u);
    if (r != 0 && r != -22) fuzz_fail("url", "an error other than -EINVAL");
    if (r == 0) {
        check_spans(u, p, n);
        if (connect && (!u->host.len || u->path.len || u->scheme.len))
            fuzz_fail("url", "CONNECT target that is not host:port");
    }
    return r;
}

/* The request line "<method> <url> HTTP/1.1" must be accepted iff the URL is. */
static void in_request(const char *in, size_t n, int connect, int url_ok)
{
    char req[4200];
    if (n == 0 || n > 4000) return;
    for (size_t i = 0; i < n; i++)
        if (in[i] == ' ' || in[i] == '\r' || in[i] == '\n') return;
    /* Built with memcpy: the URL may hold NUL bytes. */
    const char *method = connect ? "CONNECT " : "GET ";
    size_t m = strlen(method), len = m + n + strlen(" HTTP/1.1\r\n\r\n");
    memcpy(req, method, m);
    memcpy(req + m, in, n);
    memcpy(req + m + n, " HTTP/1.1\r\n\r\n", len - m - n);
    http_head_parser p;
    cora__http_parser_init(&p, HTTP_REQUEST);
    http_head h;
    memset(&h, 0, sizeof(h));
    ssize_t r =
        cora__http_parse_head(&p, guard_place(fuzz_guard(len), req, len), len, NULL, &h, NULL);
    int star = !connect && n == 1 && in[0] == '*';
    if ((r == (ssize_t)len) != (url_ok || star)) fuzz_fail("url", "the head parser disagrees");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    for (int connect = 0; connect <= 1; connect++) {
        http_url a, b;
        int ra = split(in, size, connect, &a);
        int rb = split(in, size, connect, &b);
        if (ra != rb || a.port != b.port) fuzz_fail("url", "two splits of the same bytes differ");
        in_request(in, size, connect, ra == 0);
    }
    return 0;
}
