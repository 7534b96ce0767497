/*
 * Consistent copies of an image file that is in use: find every mounted
 * filesystem (in any mount namespace) whose block device is a loop device
 * backed by the image, and freeze it (FIFREEZE: dirty data written, writers
 * blocked) while the file is read, then thaw it (FITHAW).
 *
 *   struct isol_image_users u;
 *   isol_image_users_find(path, &u, err);   fds of each mounted filesystem
 *   isol_image_users_freeze(&u, err);       every one, or none (on error)
 *   ... read the image file ...
 *   isol_image_users_release(&u);           thaw what was frozen, close fds
 *
 * A frozen filesystem stays frozen until thawed: a process killed between
 * freeze and release leaves it frozen (`fsfreeze -u MOUNTPOINT` thaws it).
 */
#ifndef ISOL_IMAGE_FREEZE_H
#define ISOL_IMAGE_FREEZE_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define ISOL_IMAGE_MAXUSERS 8

struct isol_image_users {
	int n;                       /* mounted filesystems found */
	int fd[ISOL_IMAGE_MAXUSERS]; /* a directory of each (owned) */
	int rw[ISOL_IMAGE_MAXUSERS]; /* 1: some mount of it is read-write */
	int frozen[ISOL_IMAGE_MAXUSERS];
	pid_t pid[ISOL_IMAGE_MAXUSERS];       /* a process that sees the mount */
	char where[ISOL_IMAGE_MAXUSERS][256]; /* its mount point, as that process sees it */
	char dev[ISOL_IMAGE_MAXUSERS][64];    /* the loop device, "/dev/loop3" */
};

/* Fill u with the mounted filesystems of loop devices backed by `image`
 * (compared by device and inode, LOOP_GET_STATUS64). u->n = 0: not mounted
 * (attached but unmounted loop devices are not users). On error nothing is
 * left open; errors: ENOENT/EACCES for the image, EACCES/EPERM when a
 * mount is found but cannot be opened (the message names it). */
int isol_image_users_find(const char *image, struct isol_image_users *u, isol_error *err);

/* FITRIM through the first read-write user; returns the bytes discarded
 * (-EOPNOTSUPP/-ENOTTY: no FITRIM on that filesystem). */
int isol_image_users_trim(const struct isol_image_users *u, uint64_t *trimmed, isol_error *err);

/* Freeze every user (FIFREEZE); on failure the ones already frozen are
 * thawed and err names the mount (EPERM without CAP_SYS_ADMIN). */
int isol_image_users_freeze(struct isol_image_users *u, isol_error *err);

/* Thaw what was frozen, close every fd; idempotent. */
void isol_image_users_release(struct isol_image_users *u);

#endif
