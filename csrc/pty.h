/*
 * Pseudo-terminals for `isol run -t`: a new master/slave pair whose slave
 * becomes the command's terminal (and controlling terminal, see spawn.h's
 * `ctty`), the caller's terminal in raw mode while isol relays bytes
 * between it and the master, and window sizes copied from one to the other.
 * The sandbox never holds the caller's terminal, so nothing it does
 * (TIOCSTI, a stolen foreground process group) reaches the caller's.
 */
#ifndef ISOL_PTY_H
#define ISOL_PTY_H

#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include "error.h"

struct isol_pty {
	int master; /* CLOEXEC, non-blocking */
	int slave;  /* CLOEXEC, O_NOCTTY: not our controlling terminal */
};

/* Open a new pair (posix_openpt, grantpt, unlockpt, open the slave); with ws,
 * the slave's window size is set to it. Returns 0 and fills *pty (the caller
 * owns both fds) or -errno with nothing left open. */
int isol_pty_open(struct isol_pty *pty, const struct winsize *ws, isol_error *err);

/* Put the terminal on fd in raw mode (cfmakeraw), after saving its settings
 * in *saved for isol_tty_restore. Returns 0 or -errno (ENOTTY: not a tty). */
int isol_tty_make_raw(int fd, struct termios *saved, isol_error *err);
/* Restore settings saved by isol_tty_make_raw (TCSADRAIN). 0 or -errno. */
int isol_tty_restore(int fd, const struct termios *saved, isol_error *err);

/* Window size of the terminal on fd -> *ws; set it on fd. 0 or -errno. */
int isol_tty_get_winsize(int fd, struct winsize *ws, isol_error *err);
int isol_tty_set_winsize(int fd, const struct winsize *ws, isol_error *err);

/* Write all of buf to fd (waiting while a non-blocking fd is full).
 * Returns 0 or -errno. */
int isol_fd_write_all(int fd, const char *buf, size_t len, isol_error *err);

/* Write what fd takes now of buf (a non-blocking fd, e.g. a pty master
 * whose input queue may be full). Returns the bytes written, 0 when none
 * fit (EAGAIN), or -errno. */
ssize_t isol_fd_write_some(int fd, const char *buf, size_t len, isol_error *err);

/* One read of at most len bytes. Returns the bytes read; 0 at end of input
 * (EOF, or EIO: a master whose slave side is gone); -EAGAIN when nothing
 * was ready; other -errno with err filled. */
ssize_t isol_fd_read(int fd, char *buf, size_t len, isol_error *err);

/* Move what can be read from `from` now (one read, at most 64 KiB) to `to`,
 * writing all of it (waiting for `to` when it is non-blocking and full).
 * Returns the number of bytes moved; 0 at end of input (EOF, or EIO: a
 * master whose slave side every process has closed); -EAGAIN when nothing
 * was ready; other -errno with err filled. */
ssize_t isol_fd_pump(int from, int to, isol_error *err);

#endif
