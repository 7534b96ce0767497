/* Pseudo-terminals and the caller's terminal for `isol run -t` (see pty.h). */
#define _GNU_SOURCE
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int isol_pty_open(struct isol_pty *pty, const struct winsize *ws, isol_error *err)
{
	isol_cleanup_fd int master = -1;
	char name[128];
	int slave, r;

	pty->master = pty->slave = -1;
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return isol_fail(err, errno, "posix_openpt");
	if (grantpt(master) < 0)
		return isol_fail(err, errno, "grantpt");
	if (unlockpt(master) < 0)
		return isol_fail(err, errno, "unlockpt");
	r = ptsname_r(master, name, sizeof name);
	if (r != 0)
		return isol_fail(err, r, "ptsname");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return isol_fail(err, errno, "open %s", name);
	if (ws && ioctl(slave, TIOCSWINSZ, ws) < 0) {
		r = isol_fail(err, errno, "set the window size of %s", name);
		close(slave);
		return r;
	}
	if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0) {
		r = isol_fail(err, errno, "make the pty master non-blocking");
		close(slave);
		return r;
	}
	pty->slave = slave;
	pty->master = isol_steal_fd(&master);
	return 0;
}

int isol_tty_make_raw(int fd, struct termios *saved, isol_error *err)
{
	struct termios t;

	if (tcgetattr(fd, saved) < 0)
		return isol_fail(err, errno, "tcgetattr fd %d", fd);
	t = *saved;
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSADRAIN, &t) < 0)
		return isol_fail(err, errno, "raw mode on fd %d", fd);
	return 0;
}

int isol_tty_restore(int fd, const struct termios *saved, isol_error *err)
{
	if (tcsetattr(fd, TCSADRAIN, saved) < 0)
		return isol_fail(err, errno, "restore the terminal on fd %d", fd);
	return 0;
}

int isol_tty_get_winsize(int fd, struct winsize *ws, isol_error *err)
{
	if (ioctl(fd, TIOCGWINSZ, ws) < 0)
		return isol_fail(err, errno, "window size of fd %d", fd);
	return 0;
}

int isol_tty_set_winsize(int fd, const struct winsize *ws, isol_error *err)
{
	if (ioctl(fd, TIOCSWINSZ, ws) < 0)
		return isol_fail(err, errno, "set the window size on fd %d", fd);
	return 0;
}

int isol_fd_write_all(int fd, const char *buf, size_t len, isol_error *err)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				if (poll(&p, 1, -1) < 0 && errno != EINTR)
					return isol_fail(err, errno, "poll fd %d", fd);
				continue;
			}
			return isol_fail(err, errno, "write fd %d", fd);
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

ssize_t isol_fd_write_some(int fd, const char *buf, size_t len, isol_error *err)
{
	ssize_t w;

	do
		w = write(fd, buf, len);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno == EAGAIN)
			return 0;
		return isol_fail(err, errno, "write fd %d", fd);
	}
	return w;
}

ssize_t isol_fd_read(int fd, char *buf, size_t len, isol_error *err)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return -EAGAIN;
		if (errno == EIO)
			return 0; /* a master whose slave side is gone */
		return isol_fail(err, errno, "read fd %d", fd);
	}
	return n;
}

ssize_t isol_fd_pump(int from, int to, isol_error *err)
{
	char buf[65536];
	ssize_t n = isol_fd_read(from, buf, sizeof buf, err);
	int r;

	if (n > 0 && (r = isol_fd_write_all(to, buf, (size_t)n, err)) < 0)
		return r;
	return n;
}
