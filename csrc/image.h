/*
 * Filesystem images: sparse create + mkfs, loop attach, mount, trim,
 * checkpoint (compressed, readable by gunzip / zstd -d) and sparse restore.
 *
 * Lifecycle of an image as the Lua layer uses it:
 *   isol_image_create(path)        sparse file + `mkfs.<fs>` child process
 *   isol_loop_attach(path) -> fd   LOOP_CTL_GET_FREE + LOOP_CONFIGURE with
 *                                  AUTOCLEAR: the device goes away by itself
 *                                  when the fd is closed and nothing has it
 *                                  mounted (also when the process is killed)
 *   isol_image_mount(dev, target)  mount(2) in the caller's namespace
 *   isol_image_checkpoint(...)     FITRIM through a *detached* mount (never
 *                                  visible anywhere), then compress only the
 *                                  data extents (SEEK_DATA / SEEK_HOLE)
 *   isol_image_restore(...)        decompress, writing holes for zero blocks
 * (image.c: create, loop, mount, trim; image_ckpt.c: checkpoint, restore.)
 * Output files are written as O_TMPFILE and linked into place when complete:
 * an interrupted checkpoint or restore leaves no partial file.
 * All functions follow the error contract in error.h.
 */
#ifndef ISOL_IMAGE_H
#define ISOL_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum isol_ckpt_format { ISOL_CKPT_GZIP, ISOL_CKPT_ZSTD };

/* Progress: called with bytes done and total (of the logical image); a
 * nonzero return cancels the operation (ECANCELED). */
typedef int (*isol_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct isol_ckpt_stats {
	uint64_t size;    /* logical image size */
	uint64_t data;    /* bytes of data extents read / written */
	uint64_t out;     /* bytes of the output file */
	uint64_t trimmed; /* bytes FITRIM reported as discarded */
	uint64_t alloc;   /* allocated bytes of the output (restore: st_blocks*512) */
	int trim_done;    /* 1 if FITRIM ran */
};

/* Create `path` (must not exist) as a sparse file of `size` bytes and run
 * `mkfs.<fstype>` on it as a child process (extra args before the path).
 * On failure the file is removed; a missing mkfs is reported as
 * "mkfs.xfs: not installed (...)" with ENOENT; mkfs's own stderr ends the
 * message when it fails. */
int isol_image_create(const char *path, uint64_t size, const char *fstype, const char *const *extra,
		      size_t nextra, isol_error *err);

/* Detect the filesystem type of an image file (ext2/3/4 -> "ext4", xfs,
 * btrfs, vfat). ENOMEDIUM-style failure (EINVAL) when unknown. */
int isol_image_detect(const char *path, char *fstype, size_t len, isol_error *err);

/* Attach `path` to a free loop device with autoclear. Returns the open
 * device fd (O_CLOEXEC, owned by the caller; closing it detaches the device
 * once nothing has it mounted) and writes "/dev/loopN" to dev. */
int isol_loop_attach(const char *path, int readonly, char *dev, size_t devlen, isol_error *err);

/* mount(2) dev on target (created if missing) in the caller's namespace;
 * uid/gid >= 0: chown of the mount root afterwards. */
int isol_image_mount(const char *dev, const char *fstype, const char *target, int readonly, int sync,
		     long uid, long gid, isol_error *err);

/* chown the root directory of the filesystem on dev, through a detached
 * mount (nothing becomes visible). */
int isol_image_chown(const char *dev, const char *fstype, long uid, long gid, isol_error *err);

/* FITRIM the filesystem on dev through a detached mount: free blocks are
 * discarded, which the loop driver turns into holes in the backing file. */
int isol_image_trim(const char *dev, const char *fstype, uint64_t *trimmed, isol_error *err);

/* Compress the image file at `image` into `dest`. An existing dest is
 * replaced when `replace` is nonzero, else kept (EEXIST, checked when the
 * finished file is linked into place: no race with a file made meanwhile).
 * Only data extents are read; holes and zero runs cost a few bytes each.
 * `level` < 0: the format's default. `threads` > 1 compresses blocks in
 * parallel (still one standard gzip member per data run / zstd frames).
 * The caller trims first (see above). */
int isol_image_checkpoint(const char *image, const char *dest, int replace, int format, int level,
			  int threads, isol_progress_fn progress, void *ctx, struct isol_ckpt_stats *st,
			  isol_error *err);

/* Decompress a checkpoint (gzip or zstd, detected from its magic) into a
 * sparse file `dest` (an existing one replaced only with `replace`, as for
 * isol_image_checkpoint). Zero runs written by
 * isol_image_checkpoint carry a hint in their gzip header (extra subfield
 * "IZ": zero count, member length) and are skipped without inflating; the
 * hint is trusted, so a crafted file could make this differ from gunzip's
 * output (restore is meant for isol's own checkpoints; any plain gzip or
 * zstd file restores exactly). */
int isol_image_restore(const char *src, const char *dest, int replace, isol_progress_fn progress, void *ctx,
		       struct isol_ckpt_stats *st, isol_error *err);

#endif
