/* Capabilities: libcap names in the parent, the five sets applied in the
 * child with prctl/capset (see caps.h). */
#define _GNU_SOURCE
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CAP 63 /* the masks are 64 bits */

int isol_cap_from_name(const char *name)
{
	char buf[64];
	cap_value_t v;
	size_t n = strlen(name);

	if (n == 0 || n + 5 > sizeof buf)
		return -EINVAL;
	/* libcap wants the "cap_" prefix; accept the bare name too. */
	if (strncasecmp(name, "cap_", 4) == 0)
		memcpy(buf, name, n + 1);
	else
		snprintf(buf, sizeof buf, "cap_%s", name);
	for (char *p = buf; *p; p++) {
		if (isdigit((unsigned char)*p) && p == buf + 4)
			return -EINVAL; /* "cap_12": numbers are not names */
		*p = (char)tolower((unsigned char)*p);
	}
	if (cap_from_name(buf, &v) < 0 || v < 0 || v > MAX_CAP)
		return -EINVAL;
	return (int)v;
}

const char *isol_cap_name(int cap, char *buf, size_t len)
{
	char *s = cap_to_name((cap_value_t)cap);

	snprintf(buf, len, "%s", s ? s : "?");
	cap_free(s);
	return buf;
}

int isol_cap_last(void)
{
	/* The kernel's answer does not change while it runs: read once (every
	 * spawn's capability mask asks; two threads that race both store the
	 * same value). */
	static int cached = -1;
	char buf[16];
	int fd, last = CAP_LAST_CAP;
	ssize_t n;

	if (cached >= 0)
		return cached;
	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			last = atoi(buf);
		}
	}
	if (last < 0 || last > MAX_CAP)
		last = CAP_LAST_CAP;
	cached = last;
	return last;
}

int isol_caps_check(const struct isol_caps *c, isol_error *err)
{
	if (c->effective & ~c->permitted)
		return isol_failx(err, EINVAL, "caps: effective set is not within the permitted set");
	if (c->inheritable & ~c->bounding)
		return isol_failx(err, EINVAL, "caps: inheritable set is not within the bounding set");
	if (c->ambient & ~(c->permitted & c->inheritable))
		return isol_failx(err, EINVAL,
				  "caps: ambient set is not within the permitted and inheritable sets");
	return 0;
}

/* Everything below runs in the cloned child: syscalls only. */

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	return (int)syscall(SYS_capget, &h, d);
}

static int caps_set(uint64_t prm, uint64_t eff, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	d[0].permitted = (uint32_t)prm, d[1].permitted = (uint32_t)(prm >> 32);
	d[0].effective = (uint32_t)eff, d[1].effective = (uint32_t)(eff >> 32);
	d[0].inheritable = (uint32_t)inh, d[1].inheritable = (uint32_t)(inh >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

static int cap_fail(isol_error *err, int e, const char *what, int cap)
{
	/* No libcap here (cap_to_name allocates): the number names it. */
	return isol_fail(err, e, "capabilities: %s capability %d", what, cap);
}

int isol_caps_child_apply(const struct isol_caps *c, isol_error *err)
{
	struct __user_cap_data_struct cur[2];
	uint64_t prm, eff, inh;

	if (caps_get(cur) < 0)
		return isol_fail(err, errno, "capabilities: capget");
	prm = (uint64_t)cur[0].permitted | (uint64_t)cur[1].permitted << 32;
	eff = (uint64_t)cur[0].effective | (uint64_t)cur[1].effective << 32;
	inh = (uint64_t)cur[0].inheritable | (uint64_t)cur[1].inheritable << 32;

	/* 1. Bounding set. Without CAP_SETPCAP and with no capability at all
	 * there is nothing to drop and no way to (see caps.h). Each one is
	 * dropped without reading it first (one syscall, not two: dropping one
	 * that is out already succeeds); only a refusal (EPERM: no
	 * CAP_SETPCAP) asks whether it was in the set at all. EINVAL: past this
	 * kernel's last capability (the kernel checks CAP_SETPCAP first). */
	if (prm || (eff & (1ULL << CAP_SETPCAP))) {
		for (int cap = 0; cap <= MAX_CAP; cap++) {
			int e, r;
			if (c->bounding & (1ULL << cap))
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
				continue;
			e = errno;
			if (e == EINVAL)
				break;
			r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
			if (r < 0)
				break;
			if (r == 1)
				return cap_fail(err, e, "drop from the bounding set", cap);
		}
	}
	/* 2. Inheritable (the ambient raise below needs it in place). Each of
	 * these calls commits a new copy of the credentials: one that would
	 * change nothing is left out. */
	if (inh != c->inheritable && caps_set(prm, eff, c->inheritable) < 0)
		return isol_fail(err, errno, "capabilities: set the inheritable set");
	/* 3. Ambient. The kernel keeps it within permitted & inheritable: with
	 * an empty inheritable set there is none to clear (nor to raise). */
	if (c->inheritable && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return isol_fail(err, errno, "capabilities: clear the ambient set");
	for (int cap = 0; cap <= MAX_CAP; cap++)
		if ((c->ambient & (1ULL << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return cap_fail(err, errno, "raise in the ambient set", cap);
	/* 4. Permitted and effective (only ever lowered here). */
	if (caps_set(c->permitted & prm, c->effective & prm, c->inheritable) < 0)
		return isol_fail(err, errno, "capabilities: capset");
	return 0;
}
