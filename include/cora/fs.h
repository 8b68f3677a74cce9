/* cora/fs.h: files.
 *
 * Regular files are always "ready" to the kernel's readiness APIs, so epoll cannot
 * wait for them: a read that misses the page cache blocks the thread. cora therefore
 * runs file operations natively on io_uring (the kernel does them asynchronously),
 * and on the thread pool on epoll, so a hundred files read at once never block the
 * loop on either backend.
 *
 * Cancellation: an operation that has not started is dropped; one that is under way
 * finishes first (the kernel or the worker may be writing into your buffer), and its
 * real result is returned, so no byte read or written is lost or done twice; the
 * cancellation then comes at the next suspension point. The same holds for open: a
 * file opened just as the task was cancelled is returned, never leaked.
 */
#ifndef CORA_FS_H
#define CORA_FS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* open(2): returns the fd (O_CLOEXEC is added) or a negative errno. */
int cora_open(const char *path, int flags, mode_t mode);

/* close(2). Returns 0 or a negative errno (the fd is closed either way). */
int cora_close(int fd);

/* pread(2) / pwrite(2): at offset off, the file position untouched. Return the
 * count (pread: 0 at end of file) or a negative errno. */
ssize_t cora_pread(int fd, void *buf, size_t len, off_t off);
ssize_t cora_pwrite(int fd, const void *buf, size_t len, off_t off);

/* read(2) / write(2) at the file position, for files. (For pipes and sockets use
 * cora_read / cora_write of cora/io.h.) */
ssize_t cora_file_read(int fd, void *buf, size_t len);
ssize_t cora_file_write(int fd, const void *buf, size_t len);

/* fsync(2), or fdatasync(2) when datasync is non-zero. */
int cora_fsync(int fd, int datasync);

/* stat(2) / fstat(2). */
int cora_stat(const char *path, struct stat *st);
int cora_fstat(int fd, struct stat *st);

/* rename(2), unlink(2). */
int cora_rename(const char *from, const char *to);
int cora_unlink(const char *path);

/* Reads a whole file into a new buffer, NUL-terminated (not counted in *len).
 * Refuses files larger than max bytes with -EFBIG (max 0: 1 GiB), so outside input
 * cannot make it allocate without bound. Returns 0 with *data and *len set (free
 * *data), or a negative errno; on error nothing is allocated. */
int cora_read_file(const char *path, char **data, size_t *len, size_t max);

#define CORA_WRITE_ATOMIC 0x1u /* write a temporary file, fsync, rename over path */

/* Writes data as the whole content of path (created with mode 0644 if missing). With
 * CORA_WRITE_ATOMIC readers see the old content or the new, never a mix, and a crash
 * leaves no half-written file. Returns 0 or a negative errno. */
int cora_write_file(const char *path, const void *data, size_t len, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
