/* Floor for bench/cgroup: create + limits (cpu, memory, pids) + attach +
 * move back + delete with plain syscalls, or with libcgroup, timed per
 * iteration (one line of microseconds each on stdout).
 *
 *   floor direct N PID v1 PARENT:FILE=VALUE[,FILE=VALUE] ...   (one arg per hierarchy)
 *   floor direct N PID v2 PARENT FILE=VALUE ...
 *   floor libcgroup N PID SELF:ctrl,ctrl[:FILE=VALUE,...] ...  (one arg per distinct parent)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libcgroup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void wr(const char *dir, const char *file, const char *val)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0) {
		perror(p);
		exit(1);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	int n = atoi(argv[2]);
	const char *pid = argv[3];
	char name[64], dir[16][4096];

	if (strcmp(argv[1], "direct") == 0) {
		int v2 = strcmp(argv[4], "v2") == 0;
		int nh = argc - 5;
		for (int it = 0; it < n; it++) {
			snprintf(name, sizeof name, "isol-%d-floor%d", (int)getpid(), it);
			double t0 = now_us();
			if (v2) {
				snprintf(dir[0], sizeof dir[0], "%s/%s", argv[5], name);
				if (mkdir(dir[0], 0755) < 0)
					return perror("mkdir"), 1;
				for (int a = 6; a < argc; a++) {
					char kv[256], *eq;
					snprintf(kv, sizeof kv, "%s", argv[a]);
					eq = strchr(kv, '=');
					*eq = 0;
					wr(dir[0], kv, eq + 1);
				}
				wr(dir[0], "cgroup.procs", pid);
				wr(argv[5], "cgroup.procs", pid);
				if (rmdir(dir[0]) < 0)
					return perror("rmdir"), 1;
			} else {
				for (int h = 0; h < nh; h++) {
					char spec[1024], *colon;
					snprintf(spec, sizeof spec, "%s", argv[5 + h]);
					colon = strchr(spec, ':');
					if (colon)
						*colon = 0;
					snprintf(dir[h], sizeof dir[h], "%s/%s", spec, name);
					if (mkdir(dir[h], 0755) < 0)
						return perror("mkdir"), 1;
					if (colon) {
						char *save = NULL;
						for (char *t = strtok_r(colon + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
							char *eq = strchr(t, '=');
							*eq = 0;
							wr(dir[h], t, eq + 1);
						}
					}
				}
				for (int h = 0; h < nh; h++)
					wr(dir[h], "cgroup.procs", pid);
				for (int h = 0; h < nh; h++) {
					char parent[sizeof dir[0]];
					snprintf(parent, sizeof parent, "%s", dir[h]);
					*strrchr(parent, '/') = 0;
					wr(parent, "cgroup.procs", pid);
				}
				for (int h = nh - 1; h >= 0; h--)
					if (rmdir(dir[h]) < 0)
						return perror("rmdir"), 1;
			}
			printf("%.1f\n", now_us() - t0);
		}
		return 0;
	}
	/* libcgroup: its init is paid once, outside the timing (like isol's lazy one). */
	if (cgroup_init())
		return fprintf(stderr, "cgroup_init failed\n"), 1;
	int own = strcmp(argv[4], "own") == 0; /* ignore_ownership=1 ("tuned") */
	for (int it = 0; it < n; it++) {
		struct cgroup *g[8], *back[8];
		int ng = 0;
		snprintf(name, sizeof name, "isol-%d-lcg%d", (int)getpid(), it);
		double t0 = now_us();
		for (int a = 5; a < argc; a++) {
			char spec[1024], path[2048], *c1, *c2, *save = NULL;
			snprintf(spec, sizeof spec, "%s", argv[a]);
			c1 = strchr(spec, ':');
			*c1 = 0;
			c2 = strchr(c1 + 1, ':');
			if (c2)
				*c2 = 0;
			snprintf(path, sizeof path, "%s/%s", strcmp(spec, "/") ? spec : "", name);
			g[ng] = cgroup_new_cgroup(path);
			back[ng] = cgroup_new_cgroup(spec);
			for (char *t = strtok_r(c1 + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				struct cgroup_controller *cc = cgroup_add_controller(g[ng], t);
				cgroup_add_controller(back[ng], t);
				if (c2) {
					char vals[512], *s2 = NULL;
					snprintf(vals, sizeof vals, "%s", c2 + 1);
					for (char *v = strtok_r(vals, ",", &s2); v; v = strtok_r(NULL, ",", &s2)) {
						char *eq = strchr(v, '=');
						*eq = 0;
						if (strncmp(v, t, strlen(t)) == 0 && v[strlen(t)] == '.')
							cgroup_add_value_string(cc, v, eq + 1);
					}
				}
			}
			int r = cgroup_create_cgroup(g[ng], own);
			if (r)
				return fprintf(stderr, "create: %s\n", cgroup_strerror(r)), 1;
			ng++;
		}
		for (int i = 0; i < ng; i++)
			cgroup_attach_task_pid(g[i], atoi(pid));
		for (int i = 0; i < ng; i++)
			cgroup_attach_task_pid(back[i], atoi(pid));
		for (int i = 0; i < ng; i++) {
			int r = cgroup_delete_cgroup(g[i], 0);
			if (r)
				return fprintf(stderr, "delete: %s\n", cgroup_strerror(r)), 1;
			cgroup_free(&g[i]);
			cgroup_free(&back[i]);
		}
		printf("%.1f\n", now_us() - t0);
	}
	return 0;
}
