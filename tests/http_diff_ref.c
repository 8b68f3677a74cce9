/* tests/http_diff_ref.c: see http_diff_ref.h. Only this file includes <http_parser.h>. */
#include "http_diff_ref.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_state {
    ref_outcome *out;
    int skip_body;
} ref_state;

static ref_msg *cur(http_parser *p)
{
    ref_state *st = p->data;
    size_t i = st->out->nmsgs;
    return i < REF_MAX_MSGS ? &st->out->msgs[i] : NULL;
}

static void append(char **buf, size_t *len, const char *at, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, at, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    ref_msg *m = cur(p);
    if (m) append(&m->url, &m->url_len, at, n);
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t n)
{
    ref_msg *m = cur(p);
    if (m) append(&m->reason, &m->reason_len, at, n);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    ref_msg *m = cur(p);
    if (!m) return 0;
    if (m->nfields == 0 || m->field_done) {
        if (m->nfields == m->fields_cap) {
            m->fields_cap = m->fields_cap ? m->fields_cap * 2 : 16;
            m->fields = realloc(m->fields, m->fields_cap * sizeof(ref_field));
        }
        memset(&m->fields[m->nfields++], 0, sizeof(ref_field));
        m->field_done = 0;
    }
    ref_field *f = &m->fields[m->nfields - 1];
    append(&f->name, &f->name_len, at, n);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    ref_msg *m = cur(p);
    if (!m || m->nfields == 0) return 0;
    ref_field *f = &m->fields[m->nfields - 1];
    append(&f->value, &f->value_len, at, n);
    m->field_done = 1;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    ref_state *st = p->data;
    ref_msg *m = cur(p);
    st->out->head_pending = 1;
    if (m) {
        m->method = http_method_str((enum http_method)p->method);
        m->status = (int)p->status_code;
        m->version = p->http_major * 10 + p->http_minor;
        m->chunked = (p->flags & F_CHUNKED) != 0;
    }
    return st->skip_body ? 1 : 0;
}

/* Bodies grow by doubling: the 31 MiB chunked vector arrives in 31337 pieces. */
static int on_body(http_parser *p, const char *at, size_t n)
{
    ref_msg *m = cur(p);
    if (!m) return 0;
    if (m->body_len + n + 1 > m->body_cap) {
        size_t cap = m->body_cap ? m->body_cap : 256;
        while (cap < m->body_len + n + 1)
            cap *= 2;
        m->body = realloc(m->body, cap);
        m->body_cap = cap;
    }
    memcpy(m->body + m->body_len, at, n);
    m->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    ref_state *st = p->data;
    ref_msg *m = cur(p);
    if (m) {
        m->keep_alive = http_should_keep_alive(p);
        m->complete = 1;
    }
    st->out->nmsgs++;
    st->out->ncomplete++;
    st->out->head_pending = 0;
    return 0;
}

void ref_run(int response, int skip_body, const char *data, size_t len, ref_outcome *out)
{
    memset(out, 0, sizeof(*out));
    http_parser_settings s;
    memset(&s, 0, sizeof(s));
    s.on_url = on_url;
    s.on_status = on_status;
    s.on_header_field = on_field;
    s.on_header_value = on_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    http_parser p;
    http_parser_init(&p, response ? HTTP_RESPONSE : HTTP_REQUEST);
    ref_state st = {out, skip_body};
    p.data = &st;
    size_t n = http_parser_execute(&p, &s, data, len);
    if (p.upgrade) {
        out->upgraded = 1;
        out->upgrade_at = n;
        return;
    }
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n != len) {
        out->error = HTTP_PARSER_ERRNO(&p) != HPE_OK ? (int)HTTP_PARSER_ERRNO(&p) : -1;
        out->error_name = http_errno_name(HTTP_PARSER_ERRNO(&p));
        out->error_at = n;
        return;
    }
    /* A head that completed without its message (the body still coming) counts. */
    out->nmsgs += (size_t)out->head_pending;
}

void ref_free(ref_outcome *o)
{
    size_t n = o->nmsgs < REF_MAX_MSGS ? o->nmsgs + 1 : REF_MAX_MSGS;
    for (size_t i = 0; i < n && i < REF_MAX_MSGS; i++) {
        ref_msg *m = &o->msgs[i];
        free(m->url);
        free(m->reason);
        for (size_t k = 0; k < m->nfields; k++) {
            free(m->fields[k].name);
            free(m->fields[k].value);
        }
        free(m->fields);
        free(m->body);
    }
    memset(o, 0, sizeof(*o));
}

void ref_parse_url(const char *url, size_t len, int is_connect, ref_url *out)
{
    memset(out, 0, sizeof(*out));
    struct http_parser_url u;
    http_parser_url_init(&u);
    out->ok = http_parser_parse_url(url, len, is_connect, &u) == 0;
    if (!out->ok) return;
    for (int i = 0; i < UF_MAX && i < 7; i++) {
        if (!(u.field_set & (1u << i))) continue;
        out->present |= 1u << i;
        out->off[i] = u.field_data[i].off;
        out->len[i] = u.field_data[i].len;
    }
    out->port = u.port;
}
