/*
 * Private to the cgroup files: the per-version backend table (crun's
 * cgroup manager idea) and the helpers the backends share (cgroup_util.c).
 * cgroup.c detects the layout and dispatches; cgroup_v1.c and cgroup_v2.c
 * do what differs between the versions.
 */
#ifndef ISOL_CGROUP_BACKEND_H
#define ISOL_CGROUP_BACKEND_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgroup.h"

struct isol_cg_backend {
	const char *name;
	/* Make the group's directories (cg starts closed; on failure nothing
	 * is left and cg is closed again). The layout is passed in: the
	 * backends never detect it. */
	int (*create)(struct isol_cgroup *cg, const struct isol_cg_layout *lay,
		      const struct isol_cg_spec *spec, isol_error *err);
	int (*freeze)(const struct isol_cgroup *cg, int frozen, isol_error *err);
	/* Kill everything at once, or -EOPNOTSUPP (NULL: never possible). */
	int (*kill_all)(const struct isol_cgroup *cg, isol_error *err);
	/* Fill st (pre-set to -1 everywhere). */
	int (*stats)(const struct isol_cgroup *cg, struct isol_cg_stats *st, isol_error *err);
};

extern const struct isol_cg_backend isol_cg_v1, isol_cg_v2;

/* cgroup_util.c */
int64_t isol_cgu_kv(const char *buf, const char *key);        /* "key N" / "key=N", or -1 */
int64_t isol_cgu_read_int(const char *dir, const char *file); /* "max" -> INT64_MAX, -1 */
int64_t isol_cgu_read_int_at(int dfd, const char *file);      /* the same in an isol_cgu_open_dir fd */
int isol_cgu_open_dir(const char *dir);                       /* O_PATH fd, or -1 */
void isol_cgu_now_ts(struct timespec *t);
long isol_cgu_elapsed_ms(const struct timespec *t0);
void isol_cgu_sleep_us(long us);
unsigned isol_cgu_parse_ctrls(const char *list, const char *sep, const char *skip);
int isol_cgu_parent_dir(const struct isol_cg_hier *h, const char *parent, char *out, size_t len);
int isol_cgu_chown_group(const char *dir, int version, uid_t uid, gid_t gid, isol_error *err);
int isol_cgu_add_dir(struct isol_cgroup *cg, const char *path, unsigned ctrls);
/* mkdir dir, or with spec->existing check that it is there. */
int isol_cgu_mkdir(const struct isol_cg_spec *spec, const char *dir, isol_error *err);
void isol_cgu_undo(struct isol_cgroup *cg); /* rmdir what was made, close cg */
int isol_cgu_wait_frozen(const char *path, const char *key, int want, isol_error *err);
int isol_cgu_freeze_v2(const char *dir, int frozen, isol_error *err); /* cgroup.freeze + wait */
int isol_cgu_kill_v2(const char *dir, isol_error *err);               /* cgroup.kill, or -EOPNOTSUPP */
int isol_cgu_populated_v2(const char *dir);                           /* cgroup.events populated */
int isol_cgu_walk_procs(const char *dir, int recurse, int (*fn)(pid_t pid, void *ud), void *ud,
			isol_error *err);
int isol_cgu_signal_procs(const char *dir, int sig, isol_error *err);
int isol_cgu_count_procs(const char *dir, int recurse, isol_error *err);
const char *isol_cgu_dir_with(const struct isol_cgroup *cg, int c);
ssize_t isol_cgu_read_in(const char *dir, const char *file, char *buf, size_t len);
ssize_t isol_cgu_read_in_at(int dfd, const char *file, char *buf, size_t len);
void isol_cgu_io_bytes(const char *buf, int version, int64_t *rd, int64_t *wr);

#endif
