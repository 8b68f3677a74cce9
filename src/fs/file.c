/* src/fs/file.c: file operations: native on io_uring, on the thread pool on epoll.
 *
 * Each call is one "file op": on io_uring it becomes one SQE (the kernel runs it
 * asynchronously, and cancels it in the kernel); on epoll, or where the kernel lacks
 * an opcode, the same op runs as a system call on a pool thread. Both paths share
 * one rule for cancellation (cora/fs.h): an op already under way finishes and its
 * real result is returned, because it may be writing into the caller's memory.
 */
#include "../io/backend.h"
#include "cora/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Runs fn(arg) on the pool; a job already running is waited for (pool.c). */
int cora__pool_run(void *(*fn)(void *), void *arg, void **result);

typedef struct fop {
    int kind;
    int fd;
    const char *path, *path2;
    int flags;
    mode_t mode;
    void *buf;
    size_t len;
    off_t off;
    struct stat *st;
    ssize_t res;
} fop;

/* The system-call side of a file op: run on a pool thread. */
static void *fop_syscall(void *arg)
{
    fop *f = arg;
    ssize_t r;
    switch (f->kind) {
    case CORA__OP_OPENAT: r = openat(AT_FDCWD, f->path, f->flags | O_CLOEXEC, f->mode); break;
    case CORA__OP_CLOSE: r = close(f->fd); break;
    case CORA__OP_READ:
        r = f->off < 0 ? read(f->fd, f->buf, f->len) : pread(f->fd, f->buf, f->len, f->off);
        break;
    case CORA__OP_WRITE:
        r = f->off < 0 ? write(f->fd, f->buf, f->len) : pwrite(f->fd, f->buf, f->len, f->off);
        break;
    case CORA__OP_FSYNC: r = f->flags ? fdatasync(f->fd) : fsync(f->fd); break;
    case CORA__OP_STATX:
        r = f->path ? stat(f->path, f->st) : fstat(f->fd, f->st);
        break;
    case CORA__OP_RENAMEAT: r = rename(f->path, f->path2); break;
    case CORA__OP_UNLINKAT: r = unlink(f->path); break;
    default: r = -1, errno = EINVAL; break;
    }
    f->res = r < 0 ? -errno : r;
    return NULL;
}

static void statx_to_stat(const struct statx *x, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* Runs a file op the best way this loop has. */
static ssize_t run(fop *f)
{
    cora_loop *loop = cora__loop();
    if (!loop || !loop->current) return -EPERM;
    if (!(loop->native_ops & (1u << f->kind))) {
        int r = cora__pool_run(fop_syscall, f, NULL);
        return r < 0 ? r : f->res;
    }
    struct statx x = {0}; /* -O3 cannot see that only a successful statx is read */
    cora__op op = {.kind = (uint8_t)f->kind, .fd = f->fd, .buf = f->buf, .len = f->len,
                   .off = f->off, .flags = f->flags, .path = f->path, .path2 = f->path2,
                   .mode = f->mode};
    if (f->kind == CORA__OP_OPENAT) op.flags |= O_CLOEXEC;
    if (f->kind == CORA__OP_STATX) {
        op.buf = &x;
        op.flags = f->path ? 0 : AT_EMPTY_PATH;
        op.path = f->path ? f->path : "";
    }
    ssize_t r = (ssize_t)cora__io_run(&op);
    if (r >= 0 && f->kind == CORA__OP_STATX) statx_to_stat(&x, f->st);
    return r;
}

int cora_open(const char *path, int flags, mode_t mode)
{
    if (!path) return -EFAULT;
    fop f = {.kind = CORA__OP_OPENAT, .fd = -1, .path = path, .flags = flags, .mode = mode};
    return (int)run(&f);
}

int cora_close(int fd)
{
    if (fd < 0) return -EBADF;
    /* close is quick and cannot be undone: do it here rather than wait a round. */
    return close(fd) < 0 ? -errno : 0;
}

ssize_t cora_pread(int fd, void *buf, size_t len, off_t off)
{
    if (off < 0) return -EINVAL;
    if (!buf && len) return -EFAULT;
    fop f = {.kind = CORA__OP_READ, .fd = fd, .buf = buf, .len = len, .off = off};
    return run(&f);
}

ssize_t cora_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (off < 0) return -EINVAL;
    if (!buf && len) return -EFAULT;
    fop f = {.kind = CORA__OP_WRITE, .fd = fd, .buf = (void *)buf, .len = len, .off = off};
    return run(&f);
}

ssize_t cora_file_read(int fd, void *buf, size_t len)
{
    if (!buf && len) return -EFAULT;
    fop f = {.kind = CORA__OP_READ, .fd = fd, .buf = buf, .len = len, .off = -1};
    return run(&f);
}

ssize_t cora_file_write(int fd, const void *buf, size_t len)
{
    if (!buf && len) return -EFAULT;
    fop f = {.kind = CORA__OP_WRITE, .fd = fd, .buf = (void *)buf, .len = len, .off = -1};
    return run(&f);
}

int cora_fsync(int fd, int datasync)
{
    fop f = {.kind = CORA__OP_FSYNC, .fd = fd, .flags = datasync != 0};
    return (int)run(&f);
}

int cora_stat(const char *path, struct stat *st)
{
    if (!path || !st) return -EFAULT;
    fop f = {.kind = CORA__OP_STATX, .fd = AT_FDCWD, .path = path, .st = st};
    return (int)run(&f);
}

int cora_fstat(int fd, struct stat *st)
{
    if (!st) return -EFAULT;
    fop f = {.kind = CORA__OP_STATX, .fd = fd, .st = st};
    return (int)run(&f);
}

int cora_rename(const char *from, const char *to)
{
    if (!from || !to) return -EFAULT;
    fop f = {.kind = CORA__OP_RENAMEAT, .fd = AT_FDCWD, .path = from, .path2 = to};
    return (int)run(&f);
}

int cora_unlink(const char *path)
{
    if (!path) return -EFAULT;
    fop f = {.kind = CORA__OP_UNLINKAT, .fd = AT_FDCWD, .path = path};
    return (int)run(&f);
}

/* ---- whole files ---------------------------------------------------------------- */

int cora_read_file(const char *path, char **data, size_t *len, size_t max)
{
    if (!data || !len) return -EFAULT;
    *data = NULL;
    *len = 0;
    if (max == 0) max = (size_t)1 << 30;
    int fd = cora_open(path, O_RDONLY, 0);
    if (fd < 0) return fd;
    struct stat st;
    int r = cora_fstat(fd, &st);
    size_t cap = r == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    if (r == 0 && st.st_size > 0 && (size_t)st.st_size > max) r = -EFBIG;
    char *buf = r == 0 ? cora__malloc(cap) : NULL;
    if (r == 0 && !buf) r = -ENOMEM;
    size_t n = 0;
    while (r == 0) {
        if (n + 1 >= cap) { /* the file grew, or its size was unknown (/proc) */
            if (cap > max) {
                r = -EFBIG;
                break;
            }
            char *b = cora__realloc(buf, cap * 2);
            if (!b) {
                r = -ENOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t got = cora_pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (got < 0) r = (int)got;
        if (got <= 0) break;
        n += (size_t)got;
        if (n > max) r = -EFBIG;
    }
    cora_close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

static int write_all_at(int fd, const char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = cora_pwrite(fd, data + done, len - done, (off_t)done);
        if (w < 0) return (int)w;
        done += (size_t)w;
    }
    return 0;
}

int cora_write_file(const char *path, const void *data, size_t len, unsigned flags)
{
    if (!path || (!data && len)) return -EFAULT;
    if (flags & ~CORA_WRITE_ATOMIC) return -EINVAL;
    if (!(flags & CORA_WRITE_ATOMIC)) {
        int fd = cora_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return fd;
        int r = write_all_at(fd, data, len);
        int c = cora_close(fd);
        return r < 0 ? r : c;
    }
    /* Atomic: a temporary file beside the target, made durable, then renamed over it
     * (rename is atomic within a filesystem). */
    size_t n = strlen(path);
    char *tmp = cora__malloc(n + 32);
    if (!tmp) return -ENOMEM;
    cora_task *self = cora__current();
    snprintf(tmp, n + 32, "%s.tmp.%d.%llu", path, (int)getpid(),
             (unsigned long long)cora_task_id(self));
    int fd = cora_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    int r = fd < 0 ? fd : write_all_at(fd, data, len);
    if (r == 0) r = cora_fsync(fd, 0);
    if (fd >= 0) {
        int c = cora_close(fd);
        if (r == 0) r = c;
    }
    if (r == 0) r = cora_rename(tmp, path);
    if (r < 0 && fd >= 0) {
        /* Leave no temporary behind, even when cancelled half-way. */
        cora_scope shield;
        cora_shield_enter(&shield);
        cora_unlink(tmp);
        cora_scope_exit(&shield);
    }
    free(tmp);
    return r;
}
