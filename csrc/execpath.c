/*
 * PATH search and exec with a caller's buffer (see execpath.h).
 */
#define _GNU_SOURCE
#include "execpath.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define EXECPATH_BUF 4096

static const char *env_path(char *const *envp)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
}

int isol_exec_path(const char *file, char *const argv[], char *const envp[], char *buf, const char **tried)
{
	const char *p;
	size_t flen = strlen(file);
	int saw_eacces = 0;

	*tried = file;
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return -errno;
	}
	if (flen == 0)
		return -ENOENT;
	/* Every element, an empty one included, is followed by ':' or the end:
	 * "a::b:" holds four elements, the second and the fourth being ".". */
	for (p = env_path(envp);; p++) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		const char *dir = dlen ? p : ".";
		size_t use = dlen ? dlen : 1;

		if (use + flen + 2 <= EXECPATH_BUF) {
			memcpy(buf, dir, use);
			buf[use] = '/';
			memcpy(buf + use + 1, file, flen + 1);
			execve(buf, argv, envp);
			if (errno == EACCES) {
				saw_eacces = 1;
			} else if (errno != ENOENT && errno != ENOTDIR) {
				*tried = buf;
				return -errno;
			}
		}
		if (!colon)
			break;
		p = colon;
	}
	return saw_eacces ? -EACCES : -ENOENT;
}
