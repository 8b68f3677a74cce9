/* tests/test_fs.c: files: native on io_uring, on the thread pool on epoll; whole-file
 * helpers with limits; a hundred files at once without blocking the loop;
 * cancellation of a pending open. Runs once per backend (see harness.h). */
#include "harness.h"
#include "../src/io/backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/cora-fs-%d", (int)getpid());
    mkdir(dir, 0700);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    rmdir(dir);
}

static void *main_basic(void *arg)
{
    /* io_uring runs file operations itself; epoll sends them to the pool. */
    cora_loop *loop = cora_loop_current();
    unsigned want = 1u << CORA__OP_OPENAT | 1u << CORA__OP_READ | 1u << CORA__OP_STATX;
    if (strcmp(cora_loop_backend(loop), "uring") == 0)
        assert_int_equal(loop->native_ops & want, want);
    else
        assert_int_equal(loop->native_ops, 0);
    char path[128], path2[128];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    snprintf(path2, sizeof path2, "%s/b.txt", dir);
    int fd = cora_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(cora_file_write(fd, "hello ", 6), 6);
    assert_int_equal(cora_file_write(fd, "world", 5), 5);
    assert_int_equal(cora_pwrite(fd, "W", 1, 6), 1);
    char buf[32] = {0};
    assert_int_equal(cora_pread(fd, buf, sizeof buf, 0), 11);
    assert_string_equal(buf, "hello World");
    assert_int_equal(cora_pread(fd, buf, sizeof buf, 100), 0); /* past the end */
    struct stat st;
    assert_int_equal(cora_fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 11);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(cora_fsync(fd, 0), 0);
    assert_int_equal(cora_fsync(fd, 1), 0);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(cora_file_read(fd, buf, 5), 5);
    assert_int_equal(cora_close(fd), 0);
    assert_int_equal(cora_rename(path, path2), 0);
    assert_int_equal(cora_stat(path, &st), -ENOENT);
    assert_int_equal(cora_stat(path2, &st), 0);
    assert_int_equal(st.st_size, 11);
    assert_int_equal(cora_unlink(path2), 0);
    assert_int_equal(cora_unlink(path2), -ENOENT);
    assert_int_equal(cora_open(path, O_RDONLY, 0), -ENOENT);
    assert_int_equal(cora_pread(-1, buf, 1, 0), -EBADF);
    assert_int_equal(cora_pread(0, buf, 1, -1), -EINVAL);
    assert_int_equal(cora_close(-1), -EBADF);
    return NULL;
}

static void file_operations(void **state)
{
    make_dir();
    run_ok(main_basic, NULL);
    remove_dir();
}

static void *main_whole(void *arg)
{
    char path[128];
    snprintf(path, sizeof path, "%s/whole.bin", dir);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 13);
    assert_int_equal(cora_write_file(path, data, sizeof data, 0), 0);
    char *got;
    size_t len;
    assert_int_equal(cora_read_file(path, &got, &len, 0), 0);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    assert_int_equal(got[len], 0);
    free(got);
    /* Limits: a file over max is refused, nothing allocated. */
    assert_int_equal(cora_read_file(path, &got, &len, 1000), -EFBIG);
    assert_null(got);
    /* Files whose size stat does not know (procfs). */
    assert_int_equal(cora_read_file("/proc/self/status", &got, &len, 0), 0);
    assert_non_null(strstr(got, "Name:"));
    free(got);
    /* Atomic replacement: new content, and no temporary left behind. */
    assert_int_equal(cora_write_file(path, "short", 5, CORA_WRITE_ATOMIC), 0);
    assert_int_equal(cora_read_file(path, &got, &len, 0), 0);
    assert_string_equal(got, "short");
    free(got);
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') entries++;
    closedir(d);
    assert_int_equal(entries, 1);
    assert_int_equal(cora_write_file(path, "x", 1, 0x80), -EINVAL);
    assert_int_equal(cora_read_file("/nonexistent/file", &got, &len, 0), -ENOENT);
    return NULL;
}

static void whole_files(void **state)
{
    make_dir();
    run_ok(main_whole, NULL);
    remove_dir();
}

/* ---- a hundred files at once ---------------------------------------------------- */

enum { FILES = 100, FSIZE = 128 * 1024 };

static void *read_one(void *arg)
{
    int i = (int)(intptr_t)arg;
    char path[128];
    snprintf(path, sizeof path, "%s/f%03d", dir, i);
    char *data;
    size_t len;
    int r = cora_read_file(path, &data, &len, 0);
    if (r < 0) return cora_fail(r);
    int ok = len == FSIZE && data[0] == (char)i && data[FSIZE - 1] == (char)i;
    free(data);
    return ok ? NULL : cora_fail(-EBADMSG);
}

static void *tick(void *arg)
{
    atomic_int *ticks = arg;
    while (cora_yield() == 0) atomic_fetch_add(ticks, 1);
    return NULL;
}

static void *main_hundred(void *arg)
{
    static char buf[FSIZE];
    for (int i = 0; i < FILES; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/f%03d", dir, i);
        memset(buf, i, sizeof buf);
        assert_int_equal(cora_write_file(path, buf, sizeof buf, 0), 0);
    }
    atomic_int ticks = 0;
    cora_task *ticker = cora_spawn(tick, &ticks);
    cora_task *t[FILES];
    for (int i = 0; i < FILES; i++) t[i] = cora_spawn(read_one, (void *)(intptr_t)i);
    assert_int_equal(cora_gather(FILES, t, NULL, 0), 0);
    assert_true(atomic_load(&ticks) > 0); /* the loop kept running other tasks */
    cora_cancel(ticker);
    cora_await(ticker, NULL);
    return NULL;
}

static void hundred_files_concurrently(void **state)
{
    make_dir();
    run_ok(main_hundred, NULL);
    remove_dir();
}

/* ---- cancellation of a pending open ---------------------------------------------- */

static void *open_fifo(void *arg)
{
    int fd = cora_open(arg, O_RDONLY, 0); /* a FIFO: open waits for a writer */
    return (void *)(intptr_t)fd;
}

static void *main_cancel_open(void *arg)
{
    char path[128];
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    cora_task *t = cora_spawn(open_fifo, path);
    assert_int_equal(cora_sleep(0.01), 0); /* t's open is under way */
    cora_cancel(t);
    /* The open is in the kernel (io_uring cancels it) or on a pool thread (it must
     * finish first): a writer lets it finish either way. */
    int w = -1;
    for (int i = 0; i < 100 && w < 0; i++) {
        w = open(path, O_WRONLY | O_NONBLOCK);
        if (w < 0) cora_sleep(0.001);
    }
    void *r;
    int st = cora_await(t, &r);
    int fd = (int)(intptr_t)r;
    /* Either the cancellation won (no fd) or the open did (an fd, returned, ours to
     * close): never a leaked fd, which the harness checks. */
    if (st == 0 && fd >= 0) close(fd);
    else assert_int_equal(st, -ECANCELED);
    if (w >= 0) close(w);
    return NULL;
}

static void cancel_pending_open(void **state)
{
    make_dir();
    run_ok(main_cancel_open, NULL);
    remove_dir();
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(file_operations),
    CORA_TEST(whole_files),
    CORA_TEST(hundred_files_concurrently),
    CORA_TEST(cancel_pending_open),
};

CORA_TEST_MAIN("fs", tests)
