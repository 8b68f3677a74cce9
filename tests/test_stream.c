/* tests/test_stream.c: buffered streams: lines and records across chunked input,
 * limits, exact reads at the end, back-pressure, cancel-safety of writes, sendfile,
 * half-close. Runs once per backend (see harness.h). */
#include "harness.h"

#include <fcntl.h>

struct feeder {
    int fd;
    const char *data;
    size_t len, chunk;
    int close_after;
};

/* Writes data to fd a chunk at a time, yielding between chunks. */
static void *feed(void *arg)
{
    struct feeder *f = arg;
    for (size_t i = 0; i < f->len; i += f->chunk) {
        size_t n = f->len - i < f->chunk ? f->len - i : f->chunk;
        if (cora_send_all(f->fd, f->data + i, n, NULL) < 0) break;
        cora_yield();
    }
    if (f->close_after) cora_shutdown(f->fd, SHUT_WR);
    return NULL;
}

static void *main_records(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.read_limit = 64}), 0);
    static const char text[] = "first line\nsecond\r\n\nrec|ab--cd|tail";
    struct feeder f = {sp[1], text, sizeof text - 1, 1, 1}; /* one byte at a time */
    cora_task *t = cora_spawn(feed, &f);
    const char *p;
    assert_int_equal(cora_stream_readline(s, &p), 11);
    assert_memory_equal(p, "first line\n", 11);
    assert_int_equal(cora_stream_readline(s, &p), 8);
    assert_memory_equal(p, "second\r\n", 8);
    assert_int_equal(cora_stream_readline(s, &p), 1);
    assert_int_equal(cora_stream_read_until(s, "|", 1, &p), 4);
    assert_memory_equal(p, "rec|", 4);
    assert_int_equal(cora_stream_read_until(s, "--", 2, &p), 4); /* arrives split */
    assert_memory_equal(p, "ab--", 4);
    assert_int_equal(cora_stream_read_until(s, "\n", 1, &p), -ENODATA); /* no newline */
    char rest[16];
    assert_int_equal(cora_stream_read(s, rest, sizeof rest), 7); /* nothing was lost */
    assert_memory_equal(rest, "cd|tail", 7);
    assert_int_equal(cora_stream_read(s, rest, sizeof rest), 0);
    assert_int_equal(cora_stream_readline(s, &p), 0);
    assert_int_equal(cora_await(t, NULL), 0);
    assert_int_equal(cora_stream_close(s), 0);
    close(sp[1]);
    return NULL;
}

static void lines_and_records_across_chunks(void **state)
{
    run_ok(main_records, NULL);
}

static void *main_limits(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.read_limit = 32}), 0);
    char junk[40];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(cora_send(sp[1], junk, sizeof junk, 0), (ssize_t)sizeof junk);
    const char *p;
    assert_int_equal(cora_stream_readline(s, &p), -EMSGSIZE); /* 32 bytes, no newline */
    char buf[64];
    assert_int_equal(cora_stream_read(s, buf, sizeof buf), 32); /* still readable */
    assert_int_equal(cora_stream_read(s, buf, sizeof buf), 8);
    assert_int_equal(cora_stream_peek(s, 33, &p), -EMSGSIZE);
    assert_int_equal(cora_stream_read_exactly(s, buf, 33, NULL), -EMSGSIZE);
    /* peek does not consume; read_exactly at the end reports what it had. */
    assert_int_equal(cora_send(sp[1], "abcde", 5, 0), 5);
    assert_int_equal(cora_stream_peek(s, 3, &p), 5);
    assert_memory_equal(p, "abc", 3);
    size_t got;
    assert_int_equal(cora_stream_read_exactly(s, buf, 3, &got), 3);
    assert_memory_equal(buf, "abc", 3);
    cora_shutdown(sp[1], SHUT_WR);
    assert_int_equal(cora_stream_read_exactly(s, buf, 4, &got), -ENODATA);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "de", 2);
    assert_int_equal(cora_stream_read(s, buf, 4), 2); /* left in the stream */
    cora_stream_close(s);
    close(sp[1]);
    cora_stream *bad;
    assert_int_equal(cora_stream_new(&bad, -1, NULL), -EINVAL);
    return NULL;
}

static void limits_and_exact_reads(void **state)
{
    run_ok(main_limits, NULL);
}

/* ---- writing -------------------------------------------------------------------- */

enum { BIG = 4 << 20 };

static void *slow_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static unsigned char buf[8192];
    size_t total = 0;
    ssize_t n;
    while ((n = cora_recv(fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)((total + (size_t)i) * 31)) return cora_fail(-EBADMSG);
        total += (size_t)n;
        if (total % (256 * 1024) < sizeof buf) cora_sleep(0.001);
    }
    return (void *)total;
}

static void *main_backpressure(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.write_limit = 4096}), 0);
    cora_task *r = cora_spawn(slow_reader, (void *)(intptr_t)sp[1]);
    unsigned char *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) data[i] = (unsigned char)(i * 31);
    /* Many small writes: the 4 KiB buffer bounds memory, the writer waits. */
    for (size_t i = 0; i < BIG; i += 1000) {
        size_t n = BIG - i < 1000 ? BIG - i : 1000;
        assert_int_equal(cora_stream_write(s, data + i, n), (ssize_t)n);
        assert_true(cora_stream_pending(s) <= 4096);
    }
    assert_int_equal(cora_stream_write_eof(s), 0);
    void *total;
    assert_int_equal(cora_await(r, &total), 0);
    assert_int_equal((size_t)total, BIG);
    free(data);
    assert_int_equal(cora_stream_close(s), 0);
    close(sp[1]);
    return NULL;
}

static void write_backpressure(void **state)
{
    run_ok(main_backpressure, NULL);
}

struct writer {
    cora_stream *s;
    ssize_t accepted;
};

static void *write_lots(void *arg)
{
    struct writer *w = arg;
    static char data[1 << 20];
    w->accepted = cora_stream_write(w->s, data, sizeof data);
    return NULL;
}

static void *main_write_cancel(void *arg)
{
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], &(cora_stream_opts){.write_limit = 8192}), 0);
    struct writer w = {s, -1};
    cora_task *t = cora_spawn(write_lots, &w);
    assert_int_equal(cora_sleep(0.005), 0); /* blocked: nobody reads sp[1] */
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_true(w.accepted > 0 && w.accepted < (1 << 20)); /* cut short, and told */
    /* Accepted bytes are sent or still pending, never both: what the peer gets plus
     * what close drops is exactly what write accepted. */
    ssize_t pending = (ssize_t)cora_stream_pending(s);
    ssize_t dropped = cora_stream_close(s);
    assert_int_equal(dropped, pending);
    size_t received = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(sp[1], buf, sizeof buf)) > 0) received += (size_t)n;
    assert_int_equal((ssize_t)received + dropped, w.accepted);
    close(sp[1]);
    return NULL;
}

static void write_cut_short_reports_count(void **state)
{
    run_ok(main_write_cancel, NULL);
}

static void *drain_to(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static char buf[400000];
    size_t total = 0;
    ssize_t n;
    while ((n = cora_recv(fd, buf + total, sizeof buf - total, 0)) > 0) total += (size_t)n;
    return (void *)total;
}

static void *main_sendfile2(void *arg)
{
    char path[] = "/tmp/cora-sendfile-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i % 251);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    int sp[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, sp), 0);
    cora_stream *s;
    assert_int_equal(cora_stream_new(&s, sp[0], NULL), 0);
    cora_task *r = cora_spawn(drain_to, (void *)(intptr_t)sp[1]);
    assert_int_equal(cora_stream_write(s, "HDR:", 4), 4); /* buffered before the file */
    size_t sent = 0;
    assert_int_equal(cora_stream_sendfile(s, fd, 1000, sizeof data - 1000, &sent),
                     (ssize_t)(sizeof data - 1000));
    assert_int_equal(sent, sizeof data - 1000);
    assert_int_equal(cora_stream_write_eof(s), 0);
    void *total;
    assert_int_equal(cora_await(r, &total), 0);
    assert_int_equal((size_t)total, 4 + sizeof data - 1000);
    cora_stream_close(s);
    close(sp[1]);
    close(fd);
    return NULL;
}

static void sendfile_after_buffered_bytes(void **state)
{
    run_ok(main_sendfile2, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(lines_and_records_across_chunks),
    CORA_TEST(limits_and_exact_reads),
    CORA_TEST(write_backpressure),
    CORA_TEST(write_cut_short_reports_count),
    CORA_TEST(sendfile_after_buffered_bytes),
};

CORA_TEST_MAIN("stream", tests)
