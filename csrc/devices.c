/* Device rules: parse, resolve paths/globs via stat and /proc/devices,
 * apply on v1 as devices.allow/deny (v2: devices_bpf.c). */
#define _GNU_SOURCE
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"

int isol_dev_parse_rule(const char *s, struct isol_dev_rule *r, isol_error *err)
{
	char type, maj[16] = "*", min[16] = "*", acc[8] = "rwm";
	int n;

	memset(r, 0, sizeof *r);
	n = sscanf(s, " %c %15[0-9*]:%15[0-9*] %7s", &type, maj, min, acc);
	if (n < 1 || (type != 'a' && type != 'c' && type != 'b') || (type != 'a' && n < 3))
		return isol_failx(
			err, EINVAL,
			"device rule \"%s\": expected \"TYPE MAJOR:MINOR ACCESS\" like \"c 195:* rwm\"", s);
	r->type = type;
	r->major = strcmp(maj, "*") ? atoi(maj) : -1;
	r->minor = strcmp(min, "*") ? atoi(min) : -1;
	r->access = 0;
	for (const char *p = acc; *p; p++) {
		if (*p == 'r')
			r->access |= ISOL_DEV_R;
		else if (*p == 'w')
			r->access |= ISOL_DEV_W;
		else if (*p == 'm')
			r->access |= ISOL_DEV_M;
		else
			return isol_failx(err, EINVAL,
					  "device rule \"%s\": access \"%s\" is not made of r, w, m", s, acc);
	}
	if (n < 4)
		r->access = ISOL_DEV_ALL;
	return 0;
}

void isol_dev_format(const struct isol_dev_rule *r, char *buf, size_t len)
{
	char maj[16], min[16], acc[4];
	int k = 0;

	if (r->type == 'a') {
		snprintf(buf, len, "a");
		return;
	}
	if (r->major < 0)
		snprintf(maj, sizeof maj, "*");
	else
		snprintf(maj, sizeof maj, "%d", r->major);
	if (r->minor < 0)
		snprintf(min, sizeof min, "*");
	else
		snprintf(min, sizeof min, "%d", r->minor);
	if (r->access & ISOL_DEV_R)
		acc[k++] = 'r';
	if (r->access & ISOL_DEV_W)
		acc[k++] = 'w';
	if (r->access & ISOL_DEV_M)
		acc[k++] = 'm';
	acc[k] = '\0';
	snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, acc);
}

static int push(struct isol_dev_rule *out, size_t *n, size_t max, const struct isol_dev_rule *r,
		const char *what, isol_error *err)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].type == r->type && out[i].major == r->major && out[i].minor == r->minor &&
		    out[i].access == r->access && out[i].allow == r->allow)
			return 0;
	if (*n >= max)
		return isol_failx(err, E2BIG, "devices %s: more than %zu rules", what, max);
	out[(*n)++] = *r;
	return 0;
}

/* Majors that devices.txt fixes for GPUs, matched even when no driver is
 * loaded (so a deny of them holds once one is). */
static const struct {
	const char *sample;
	char type;
	int major;
} fixed[] = {
	{ "/dev/nvidia0", 'c', 195 },
	{ "/dev/nvidiactl", 'c', 195 },
	{ "/dev/dri/card0", 'c', 226 },
	{ "/dev/dri/renderD128", 'c', 226 },
};

int isol_dev_resolve(const char *what, unsigned access, int allow, struct isol_dev_rule *out, size_t *n,
		     size_t max, isol_error *err)
{
	struct isol_dev_rule r;
	struct stat st;
	int rc;

	if (what[0] != '/') {
		if ((rc = isol_dev_parse_rule(what, &r, err)) < 0)
			return rc;
		r.allow = allow;
		return push(out, n, max, &r, what, err);
	}
	if (!strpbrk(what, "*?[")) {
		if (stat(what, &st) < 0)
			return isol_fail(err, errno, "device %s", what);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return isol_failx(err, ENODEV, "device %s: not a device node", what);
		r = (struct isol_dev_rule){ S_ISCHR(st.st_mode) ? 'c' : 'b', (int)major(st.st_rdev),
					    (int)minor(st.st_rdev), access, allow };
		return push(out, n, max, &r, what, err);
	}

	/* A glob: the nodes present now ... */
	glob_t g;
	memset(&g, 0, sizeof g);
	if (glob(what, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			if (stat(g.gl_pathv[i], &st) < 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
				continue;
			r = (struct isol_dev_rule){ S_ISCHR(st.st_mode) ? 'c' : 'b', (int)major(st.st_rdev),
						    (int)minor(st.st_rdev), access, allow };
			if ((rc = push(out, n, max, &r, what, err)) < 0) {
				globfree(&g);
				return rc;
			}
		}
	}
	globfree(&g);
	/* ... the fixed GPU majors ... */
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (fnmatch(what, fixed[i].sample, FNM_PATHNAME) == 0) {
			r = (struct isol_dev_rule){ fixed[i].type, fixed[i].major, -1, access, allow };
			if ((rc = push(out, n, max, &r, what, err)) < 0)
				return rc;
		}
	/* ... and every driver of /proc/devices whose /dev/NAME matches. */
	FILE *f = fopen("/proc/devices", "re");
	if (!f)
		return isol_fail(err, errno, "open /proc/devices");
	char line[256], type = 'c';
	while (fgets(line, sizeof line, f)) {
		int maj;
		char name[200], path[220];
		if (strncmp(line, "Block", 5) == 0)
			type = 'b';
		if (sscanf(line, "%d %199s", &maj, name) != 2)
			continue;
		snprintf(path, sizeof path, "%s%s", name[0] == '/' ? "" : "/dev/", name);
		if (fnmatch(what, path, FNM_PATHNAME) == 0) {
			r = (struct isol_dev_rule){ type, maj, -1, access, allow };
			if ((rc = push(out, n, max, &r, what, err)) < 0) {
				fclose(f);
				return rc;
			}
		}
	}
	fclose(f);
	return 0;
}

int isol_dev_apply_v1(const char *dir, int default_allow, const struct isol_dev_rule *rules, size_t n,
		      isol_error *err)
{
	char buf[64];
	int r;

	if (!default_allow && (r = isol_write_at(dir, "devices.deny", "a", err)) < 0)
		return r;
	for (int pass = 1; pass >= 0; pass--)
		for (size_t i = 0; i < n; i++) {
			if (rules[i].allow != pass)
				continue;
			isol_dev_format(&rules[i], buf, sizeof buf);
			r = isol_write_at(dir, pass ? "devices.allow" : "devices.deny", buf, err);
			if (r < 0)
				return r;
		}
	return 0;
}
