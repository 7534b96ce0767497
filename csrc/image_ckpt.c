#define _GNU_SOURCE
/* Checkpoint and restore of image files (the compression phase of image.c):
 * the stream writer (gzip members / zstd frames, zero runs as precomputed
 * members, parallel gzip blocks) and the sparse restorer. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define CHUNK (1u << 20)     /* read/write unit */
#define ZERO_MIN (64u << 10) /* zero runs at least this long inside data are holes */
#define PROGRESS_STEP (32ull << 20)

/* ------------------------------------------------------------ output file */

/* An unnamed file in dest's directory (O_TMPFILE): linked into place only
 * when complete, so a killed process leaves nothing. Falls back to a named
 * temporary that is unlinked on failure. */
struct outfile {
	int fd;
	char tmpname[PATH_MAX]; /* fallback only */
};

static int out_open(struct outfile *o, const char *dest, isol_error *err)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof dir, "%s", dest);
	o->tmpname[0] = '\0';
	o->fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (o->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return isol_fail(err, errno, "create %s", dest);
	snprintf(o->tmpname, sizeof o->tmpname, "%s.isol-tmp-%d", dest, (int)getpid());
	o->fd = open(o->tmpname, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0)
		return isol_fail(err, errno, "create %s", o->tmpname);
	return 0;
}

static void out_abort(struct outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmpname[0])
		unlink(o->tmpname);
}

/* Link the finished file into place: replacing dest, or (replace = 0) only
 * where nothing exists (link(2) fails with EEXIST atomically). */
static int out_commit(struct outfile *o, const char *dest, int replace, isol_error *err)
{
	char proc[64], tmp[PATH_MAX];
	int r = 0;

	if (fsync(o->fd) < 0) {
		r = isol_fail(err, errno, "sync %s", dest);
		out_abort(o);
		return r;
	}
	if (o->tmpname[0]) {
		if (replace ? rename(o->tmpname, dest) < 0 : link(o->tmpname, dest) < 0) {
			r = isol_fail(err, errno, "%s %s", replace ? "rename to" : "create", dest);
			out_abort(o);
			return r;
		}
		if (!replace)
			unlink(o->tmpname);
		close(o->fd);
		o->fd = -1;
		return 0;
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
	if (!replace) {
		if (linkat(AT_FDCWD, proc, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) < 0)
			r = isol_fail(err, errno, "create %s", dest);
		close(o->fd);
		o->fd = -1;
		return r;
	}
	snprintf(tmp, sizeof tmp, "%s.isol-tmp-%d", dest, (int)getpid());
	unlink(tmp);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0) {
		r = isol_fail(err, errno, "link %s", dest);
	} else if (rename(tmp, dest) < 0) {
		r = isol_fail(err, errno, "rename to %s", dest);
		unlink(tmp);
	}
	close(o->fd);
	o->fd = -1;
	return r;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int all_zero(const unsigned char *p, size_t len)
{
	if (len < 16) {
		for (size_t i = 0; i < len; i++)
			if (p[i])
				return 0;
		return 1;
	}
	for (size_t i = 0; i < 16; i++)
		if (p[i])
			return 0;
	return memcmp(p, p + 16, len - 16) == 0;
}

/* ------------------------------------------------------------ checkpoint */

/* A gzip member of zeros carries a hint in its header's extra field
 * (RFC 1952 FEXTRA, ignored by gunzip): subfield "IZ" with the number of
 * zero bytes and the member's length, so that our restore skips it without
 * inflating. Header: 10 bytes, XLEN (2), then SI1 SI2 LEN(2) + 16 bytes. */
#define GZ_HINT_EXTRA 20
#define GZ_HINT_LEN (12 + GZ_HINT_EXTRA)

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Is there a zero-member hint at p? */
static int gz_hint(const unsigned char *p, size_t len, uint64_t *zeros, uint64_t *mlen)
{
	if (len < GZ_HINT_LEN || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || p[3] != 0x04 ||
	    p[10] != GZ_HINT_EXTRA || p[11] != 0 || p[12] != 'I' || p[13] != 'Z' || p[14] != 16 || p[15] != 0)
		return 0;
	*zeros = get_le64(p + 16);
	*mlen = get_le64(p + 24);
	return *zeros <= (64u << 20) && *mlen >= GZ_HINT_LEN + 8 && *mlen <= (1u << 20);
}

/* The compressed stream is a sequence of gzip members / zstd frames (both
 * tools decode concatenations): one per run of data, and a precomputed
 * member/frame of ZBIG zeros repeated for holes. */
/* Parallel gzip (pigz's scheme): a data run is cut into PBLK blocks, each
 * raw-deflated by its own thread with the previous 32 KiB as dictionary and
 * ended by a sync flush; the member gets a final empty block and the CRC of
 * the whole run. The result is one ordinary gzip member. */
#define PBLK (1u << 20)
#define PDICT (32u << 10)
#define PMAX 8

struct pblock {
	const unsigned char *in, *dict;
	size_t len, dlen;
	unsigned char *out;
	size_t cap, olen;
	int level, rc;
};

static void *pblock_run(void *arg)
{
	struct pblock *b = arg;
	z_stream z;
	int zr;

	b->rc = -1;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, b->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	if (b->dlen && deflateSetDictionary(&z, b->dict, (uInt)b->dlen) != Z_OK) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)b->in;
	z.avail_in = (uInt)b->len;
	z.next_out = b->out;
	z.avail_out = (uInt)b->cap;
	zr = deflate(&z, Z_SYNC_FLUSH);
	b->olen = b->cap - z.avail_out;
	if (zr == Z_OK && z.avail_in == 0 && z.avail_out > 0)
		b->rc = 0;
	deflateEnd(&z);
	return NULL;
}

struct writer {
	int format, level, fd;
	int threads; /* > 1: parallel gzip */
	unsigned char *pin[PMAX], *pout[PMAX];
	size_t pcap, pfill; /* pfill: bytes in pin[pcur] */
	int pcur;
	unsigned char pdict[PDICT];
	size_t pdict_len;
	uLong crc;
	uint64_t isize;
	int open;                   /* a data member/frame is open */
	uint64_t out;               /* bytes written */
	unsigned char *obuf;        /* compressed output buffer (CHUNK) */
	const unsigned char *zeros; /* ZBIG zero bytes */
	/* precomputed member/frame for ZBIG >> k zeros, k < ZLEVELS */
	unsigned char *zmem[12];
	size_t zmem_len[12];
	z_stream z;
	int z_init;
	ZSTD_CCtx *zc;
};

#define ZBIG (8u << 20)
#define ZLEVELS 12 /* ZBIG down to 4 KiB */

static int w_emit(struct writer *w, const void *p, size_t n, isol_error *err)
{
	int r = write_all(w->fd, p, n);
	if (r < 0)
		return isol_fail(err, -r, "write checkpoint");
	w->out += n;
	return 0;
}

static int gz_feed(struct writer *w, const void *p, size_t n, int flush, isol_error *err)
{
	int zr;

	w->z.next_in = (Bytef *)(uintptr_t)p;
	w->z.avail_in = (uInt)n;
	do {
		w->z.next_out = w->obuf;
		w->z.avail_out = CHUNK;
		zr = deflate(&w->z, flush);
		if (zr == Z_STREAM_ERROR)
			return isol_failx(err, EIO, "deflate: stream error");
		if (w_emit(w, w->obuf, CHUNK - w->z.avail_out, err) < 0)
			return -EIO;
	} while (w->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static int zs_feed(struct writer *w, const void *p, size_t n, ZSTD_EndDirective mode, isol_error *err)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t rem;

	do {
		ZSTD_outBuffer out = { w->obuf, CHUNK, 0 };
		rem = ZSTD_compressStream2(w->zc, &out, &in, mode);
		if (ZSTD_isError(rem))
			return isol_failx(err, EIO, "zstd: %s", ZSTD_getErrorName(rem));
		if (w_emit(w, w->obuf, out.pos, err) < 0)
			return -EIO;
	} while (mode == ZSTD_e_end ? rem != 0 : in.pos < in.size);
	return 0;
}

/* Compress the filled blocks (and the partial one) in parallel, in order. */
static int p_flush(struct writer *w, isol_error *err)
{
	struct pblock b[PMAX];
	pthread_t tid[PMAX];
	int started[PMAX], k = w->pcur + (w->pfill > 0), r = 0;

	for (int j = 0; j < k; j++) {
		b[j].in = w->pin[j];
		b[j].len = j < w->pcur ? PBLK : w->pfill;
		b[j].dict = j == 0 ? w->pdict : w->pin[j - 1] + PBLK - PDICT;
		b[j].dlen = j == 0 ? w->pdict_len : PDICT;
		b[j].out = w->pout[j];
		b[j].cap = w->pcap;
		b[j].level = w->level;
		started[j] = j > 0 && pthread_create(&tid[j], NULL, pblock_run, &b[j]) == 0;
	}
	if (k > 0)
		pblock_run(&b[0]);
	for (int j = 1; j < k; j++) {
		if (started[j])
			pthread_join(tid[j], NULL);
		else
			pblock_run(&b[j]); /* no thread: do it here */
	}
	for (int j = 0; j < k && r == 0; j++) {
		if (b[j].rc < 0)
			return isol_failx(err, EIO, "deflate: block failed");
		r = w_emit(w, b[j].out, b[j].olen, err);
	}
	if (k > 0) {
		/* the next block's dictionary: the last 32 KiB of input */
		const struct pblock *last = &b[k - 1];
		if (last->len >= PDICT) {
			memcpy(w->pdict, last->in + last->len - PDICT, PDICT);
			w->pdict_len = PDICT;
		} else {
			size_t keep = w->pdict_len + last->len > PDICT ? PDICT - last->len : w->pdict_len;
			memmove(w->pdict, w->pdict + w->pdict_len - keep, keep);
			memcpy(w->pdict + keep, last->in, last->len);
			w->pdict_len = keep + last->len;
		}
	}
	w->pcur = 0;
	w->pfill = 0;
	return r;
}

static int p_data(struct writer *w, const unsigned char *p, size_t n, isol_error *err)
{
	if (!w->open) {
		static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
		int r = w_emit(w, hdr, sizeof hdr, err);
		if (r < 0)
			return r;
		w->crc = crc32(0L, Z_NULL, 0);
		w->isize = 0;
		w->pdict_len = 0;
		w->open = 1;
	}
	w->crc = crc32_z(w->crc, p, n);
	w->isize += n;
	while (n) {
		size_t take = PBLK - w->pfill < n ? PBLK - w->pfill : n;
		memcpy(w->pin[w->pcur] + w->pfill, p, take);
		w->pfill += take;
		p += take;
		n -= take;
		if (w->pfill == PBLK) {
			w->pcur++;
			w->pfill = 0;
			if (w->pcur == w->threads) {
				int r = p_flush(w, err);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

static int p_end(struct writer *w, isol_error *err)
{
	unsigned char tail[10] = { 0x03, 0x00 }; /* final empty block */
	int r = p_flush(w, err);

	if (r < 0)
		return r;
	for (int i = 0; i < 4; i++) {
		tail[2 + i] = (unsigned char)(w->crc >> (8 * i));
		tail[6 + i] = (unsigned char)(w->isize >> (8 * i));
	}
	return w_emit(w, tail, sizeof tail, err);
}

static int w_end_member(struct writer *w, isol_error *err)
{
	int r = 0;

	if (!w->open)
		return 0;
	if (w->format == ISOL_CKPT_GZIP && w->threads > 1) {
		r = p_end(w, err);
	} else if (w->format == ISOL_CKPT_GZIP) {
		r = gz_feed(w, NULL, 0, Z_FINISH, err);
		deflateReset(&w->z);
	} else {
		r = zs_feed(w, NULL, 0, ZSTD_e_end, err);
	}
	w->open = 0;
	return r;
}

static int w_data(struct writer *w, const void *p, size_t n, isol_error *err)
{
	if (w->format == ISOL_CKPT_GZIP && w->threads > 1)
		return p_data(w, p, n, err);
	w->open = 1;
	if (w->format == ISOL_CKPT_GZIP)
		return gz_feed(w, p, n, Z_NO_FLUSH, err);
	return zs_feed(w, p, n, ZSTD_e_continue, err);
}

/* n zeros as a member/frame of its own (n <= ZBIG). */
static int w_zero_member(struct writer *w, size_t n, unsigned char *dst, size_t cap, size_t *len,
			 isol_error *err)
{
	if (w->format == ISOL_CKPT_GZIP) {
		unsigned char extra[GZ_HINT_EXTRA] = { 'I', 'Z', 16, 0 };
		gz_header hd;
		z_stream z;

		memset(&z, 0, sizeof z);
		memset(&hd, 0, sizeof hd);
		put_le64(extra + 4, n);
		hd.extra = extra;
		hd.extra_len = sizeof extra;
		hd.os = 3;
		if (deflateInit2(&z, w->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
		    deflateSetHeader(&z, &hd) != Z_OK)
			return isol_failx(err, ENOMEM, "deflateInit");
		z.next_in = (Bytef *)(uintptr_t)w->zeros;
		z.avail_in = (uInt)n;
		z.next_out = dst;
		z.avail_out = (uInt)cap;
		int zr = deflate(&z, Z_FINISH);
		*len = cap - z.avail_out;
		deflateEnd(&z);
		if (zr != Z_STREAM_END)
			return isol_failx(err, EIO, "deflate zeros");
		/* the member's own length completes the hint (no header CRC) */
		put_le64(dst + 24, *len);
		return 0;
	}
	size_t r = ZSTD_compress(dst, cap, w->zeros, n, w->level);
	if (ZSTD_isError(r))
		return isol_failx(err, EIO, "zstd: %s", ZSTD_getErrorName(r));
	*len = r;
	return 0;
}

/* A hole of n bytes: members/frames of ZBIG >> k zeros (computed once each)
 * following the binary decomposition of n, then one for the last < 4 KiB. */
static int w_zeros(struct writer *w, uint64_t n, isol_error *err)
{
	int r = w_end_member(w, err);

	if (r < 0)
		return r;
	for (int k = 0; k < ZLEVELS && n; k++) {
		size_t unit = ZBIG >> k;
		if (n < unit)
			continue;
		if (!w->zmem[k]) {
			w->zmem[k] = malloc(CHUNK);
			if (!w->zmem[k])
				return isol_failx(err, ENOMEM, "out of memory");
			r = w_zero_member(w, unit, w->zmem[k], CHUNK, &w->zmem_len[k], err);
			if (r < 0)
				return r;
		}
		for (; n >= unit; n -= unit)
			if ((r = w_emit(w, w->zmem[k], w->zmem_len[k], err)) < 0)
				return r;
	}
	if (n) {
		size_t len;
		r = w_zero_member(w, (size_t)n, w->obuf, CHUNK, &len, err);
		if (r < 0)
			return r;
		r = w_emit(w, w->obuf, len, err);
	}
	return r;
}

int isol_image_checkpoint(const char *image, const char *dest, int replace, int format, int level,
			  int threads, isol_progress_fn progress, void *ctx, struct isol_ckpt_stats *st,
			  isol_error *err)
{
	struct writer w;
	struct outfile o = { .fd = -1 };
	struct stat sb;
	unsigned char *buf = NULL, *zeros = NULL;
	uint64_t off = 0, size, pending_zero = 0, next_progress = 0;
	int in, r = 0;

	memset(&w, 0, sizeof w);
	memset(st, 0, sizeof *st);
	in = open(image, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return isol_fail(err, errno, "open image %s", image);
	if (fstat(in, &sb) < 0) {
		r = isol_fail(err, errno, "stat %s", image);
		goto out;
	}
	size = st->size = (uint64_t)sb.st_size;
	posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);

	w.format = format;
	if (format == ISOL_CKPT_GZIP) {
		w.level = level < 0 ? Z_DEFAULT_COMPRESSION : level;
		if (deflateInit2(&w.z, w.level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			r = isol_failx(err, EINVAL, "gzip level %d: not accepted by zlib", level);
			goto out;
		}
		w.z_init = 1;
		if (threads > 1) {
			w.threads = threads > PMAX ? PMAX : threads;
			w.pcap = deflateBound(&w.z, PBLK) + 64;
			for (int j = 0; j < w.threads; j++) {
				w.pin[j] = malloc(PBLK);
				w.pout[j] = malloc(w.pcap);
				if (!w.pin[j] || !w.pout[j]) {
					r = isol_failx(err, ENOMEM, "checkpoint: out of memory");
					goto out;
				}
			}
		}
	} else {
		w.level = level < 0 ? ZSTD_CLEVEL_DEFAULT : level;
		w.zc = ZSTD_createCCtx();
		if (!w.zc || ZSTD_isError(ZSTD_CCtx_setParameter(w.zc, ZSTD_c_compressionLevel, w.level))) {
			r = isol_failx(err, EINVAL, "zstd level %d: not accepted", level);
			goto out;
		}
		/* libzstd's own workers (ignored by a single-threaded build) */
		if (threads > 1)
			ZSTD_CCtx_setParameter(w.zc, ZSTD_c_nbWorkers, threads);
	}
	buf = malloc(CHUNK);
	w.obuf = malloc(CHUNK);
	zeros = calloc(1, ZBIG); /* untouched zero pages: costs no memory */
	if (!buf || !w.obuf || !zeros) {
		r = isol_failx(err, ENOMEM, "checkpoint: out of memory");
		goto out;
	}
	w.zeros = zeros;
	r = out_open(&o, dest, err);
	if (r < 0)
		goto out;
	w.fd = o.fd;

	while (off < size) {
		off_t data = lseek(in, (off_t)off, SEEK_DATA), hole;
		if (data < 0) {
			if (errno != ENXIO) {
				r = isol_fail(err, errno, "seek data in %s", image);
				goto out;
			}
			data = (off_t)size; /* a hole to the end */
		}
		pending_zero += (uint64_t)data - off;
		off = (uint64_t)data;
		if (off >= size)
			break;
		hole = lseek(in, (off_t)off, SEEK_HOLE);
		if (hole < 0) {
			r = isol_fail(err, errno, "seek hole in %s", image);
			goto out;
		}
		while (off < (uint64_t)hole) {
			size_t want = (uint64_t)hole - off < CHUNK ? (size_t)((uint64_t)hole - off) : CHUNK;
			ssize_t n = pread(in, buf, want, (off_t)off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = isol_fail(err, errno, "read %s", image);
				goto out;
			}
			if (n == 0) {
				hole = (off_t)off; /* file shrank */
				break;
			}
			st->data += (uint64_t)n;
			/* Split into data and long zero runs (zeros written by a
			 * filesystem that never trimmed them). */
			for (size_t i = 0; i < (size_t)n;) {
				size_t j = i;
				while (j < (size_t)n) {
					size_t blk = (size_t)n - j < ZERO_MIN ? (size_t)n - j : ZERO_MIN;
					if (!all_zero(buf + j, blk))
						break;
					j += blk;
				}
				if (j - i >= ZERO_MIN || (j == (size_t)n && j > i)) {
					pending_zero += j - i;
					i = j;
					continue;
				}
				/* data up to the next ZERO_MIN-aligned zero block */
				j = i + ZERO_MIN < (size_t)n ? i + ZERO_MIN : (size_t)n;
				if (pending_zero) {
					if ((r = w_zeros(&w, pending_zero, err)) < 0)
						goto out;
					pending_zero = 0;
				}
				if ((r = w_data(&w, buf + i, j - i, err)) < 0)
					goto out;
				i = j;
			}
			off += (uint64_t)n;
			if (progress && off >= next_progress) {
				next_progress = off + PROGRESS_STEP;
				if (progress(ctx, off, size)) {
					r = isol_failx(err, ECANCELED, "checkpoint %s: cancelled", image);
					goto out;
				}
			}
		}
		if (off < (uint64_t)hole)
			break;
	}
	if (off < size)
		pending_zero += size - off;
	if (pending_zero && (r = w_zeros(&w, pending_zero, err)) < 0)
		goto out;
	if ((r = w_end_member(&w, err)) < 0)
		goto out;
	/* An empty image still gets one empty member/frame: a 0-byte file is
	 * no checkpoint (restore rejects it), and w_zeros(0) emits nothing. */
	if (size == 0) {
		size_t len;
		if ((r = w_zero_member(&w, 0, w.obuf, CHUNK, &len, err)) < 0 ||
		    (r = w_emit(&w, w.obuf, len, err)) < 0)
			goto out;
	}
	st->out = w.out;
	r = out_commit(&o, dest, replace, err);
	if (r == 0 && progress)
		progress(ctx, size, size);
out:
	if (r < 0)
		out_abort(&o);
	close(in);
	free(buf);
	free(zeros);
	free(w.obuf);
	for (int k = 0; k < ZLEVELS; k++)
		free(w.zmem[k]);
	for (int j = 0; j < PMAX; j++) {
		free(w.pin[j]);
		free(w.pout[j]);
	}
	if (w.z_init)
		deflateEnd(&w.z);
	ZSTD_freeCCtx(w.zc);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------ restore */

/* Write decompressed bytes at the current offset, leaving holes for zero
 * 4 KiB blocks. */
static int sparse_write(int fd, const unsigned char *p, size_t n, uint64_t *off, isol_error *err)
{
	const size_t B = 4096;
	size_t i = 0;

	while (i < n) {
		size_t len = n - i < B ? n - i : B;
		/* skip zero blocks */
		if (all_zero(p + i, len)) {
			i += len;
			*off += len;
			continue;
		}
		size_t j = i + len;
		while (j < n) {
			size_t l2 = n - j < B ? n - j : B;
			if (all_zero(p + j, l2))
				break;
			j += l2;
		}
		size_t k = i;
		while (k < j) {
			ssize_t w = pwrite(fd, p + k, j - k, (off_t)(*off + (k - i)));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return isol_fail(err, errno, "write restored image");
			}
			k += (size_t)w;
		}
		*off += j - i;
		i = j;
	}
	return 0;
}

int isol_image_restore(const char *src, const char *dest, int replace, isol_progress_fn progress, void *ctx,
		       struct isol_ckpt_stats *st, isol_error *err)
{
	struct outfile o = { .fd = -1 };
	unsigned char *ibuf = NULL, *obuf = NULL, magic[4];
	uint64_t off = 0, next_progress = PROGRESS_STEP, total;
	z_stream z;
	int z_init = 0, in, r = 0, gz;
	ZSTD_DCtx *dc = NULL;
	struct stat sb;
	ssize_t n;

	memset(st, 0, sizeof *st);
	memset(&z, 0, sizeof z);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return isol_fail(err, errno, "open checkpoint %s", src);
	if (fstat(in, &sb) < 0 || pread(in, magic, 4, 0) != 4) {
		r = isol_failx(err, EINVAL, "checkpoint %s: too short or unreadable", src);
		goto out;
	}
	total = (uint64_t)sb.st_size; /* progress counts compressed input */
	if (magic[0] == 0x1f && magic[1] == 0x8b) {
		gz = 1;
		if (inflateInit2(&z, 15 + 16) != Z_OK) {
			r = isol_failx(err, ENOMEM, "inflateInit");
			goto out;
		}
		z_init = 1;
	} else if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
		gz = 0;
		dc = ZSTD_createDCtx();
		if (!dc) {
			r = isol_failx(err, ENOMEM, "zstd context");
			goto out;
		}
	} else {
		r = isol_failx(err, EINVAL, "checkpoint %s: not a gzip or zstd file", src);
		goto out;
	}
	ibuf = malloc(CHUNK);
	obuf = malloc(CHUNK);
	if (!ibuf || !obuf) {
		r = isol_failx(err, ENOMEM, "restore: out of memory");
		goto out;
	}
	r = out_open(&o, dest, err);
	if (r < 0)
		goto out;

	uint64_t consumed = 0;
	size_t ipos = 0, ilen = 0;
	int ended = 1, eof = 0; /* ended: between gzip members / zstd frames */
	for (;;) {
		/* refill; at a gzip member boundary keep a whole hint visible */
		if (!eof && (ipos == ilen || (gz && ended && ilen - ipos < GZ_HINT_LEN))) {
			size_t rem = ilen - ipos;
			memmove(ibuf, ibuf + ipos, rem);
			n = read(in, ibuf + rem, CHUNK - rem);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = isol_fail(err, errno, "read %s", src);
				goto out;
			}
			eof = n == 0;
			ipos = 0;
			ilen = rem + (size_t)n;
			consumed += (uint64_t)n;
			if (progress && consumed >= next_progress) {
				next_progress = consumed + PROGRESS_STEP / 8;
				if (progress(ctx, consumed, total)) {
					r = isol_failx(err, ECANCELED, "restore %s: cancelled", src);
					goto out;
				}
			}
			continue;
		}
		if (ipos == ilen)
			break;
		if (gz) {
			uint64_t zeros, mlen;
			if (ended && gz_hint(ibuf + ipos, ilen - ipos, &zeros, &mlen)) {
				size_t have = ilen - ipos;
				if (mlen <= have) {
					ipos += (size_t)mlen;
				} else {
					off_t at = lseek(in, (off_t)(mlen - have), SEEK_CUR);
					if (at < 0 || (uint64_t)at > total) {
						r = isol_failx(err, EINVAL, "checkpoint %s: truncated", src);
						goto out;
					}
					consumed += mlen - have;
					ipos = ilen;
				}
				off += zeros; /* a hole */
				continue;
			}
			z.next_in = ibuf + ipos;
			z.avail_in = (uInt)(ilen - ipos);
			z.next_out = obuf;
			z.avail_out = CHUNK;
			int zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
				r = isol_failx(err, EINVAL, "checkpoint %s: corrupt gzip data (%s)", src,
					       z.msg ? z.msg : "inflate failed");
				goto out;
			}
			ipos = ilen - z.avail_in;
			ended = 0;
			if ((r = sparse_write(o.fd, obuf, CHUNK - z.avail_out, &off, err)) < 0)
				goto out;
			if (zr == Z_STREAM_END) {
				inflateReset(&z); /* next member */
				ended = 1;
			}
		} else {
			ZSTD_inBuffer zin = { ibuf + ipos, ilen - ipos, 0 };
			ZSTD_outBuffer zout;
			do {
				zout = (ZSTD_outBuffer){ obuf, CHUNK, 0 };
				size_t zr = ZSTD_decompressStream(dc, &zout, &zin);
				if (ZSTD_isError(zr)) {
					r = isol_failx(err, EINVAL, "checkpoint %s: corrupt zstd data (%s)",
						       src, ZSTD_getErrorName(zr));
					goto out;
				}
				ended = zr == 0;
				if ((r = sparse_write(o.fd, obuf, zout.pos, &off, err)) < 0)
					goto out;
			} while (zout.pos == CHUNK); /* drain what the context still holds */
			ipos += zin.pos;
		}
	}
	if (!ended) {
		r = isol_failx(err, EINVAL, "checkpoint %s: truncated", src);
		goto out;
	}
	if (ftruncate(o.fd, (off_t)off) < 0) {
		r = isol_fail(err, errno, "set size of %s", dest);
		goto out;
	}
	st->size = off;
	st->out = off;
	if (fstat(o.fd, &sb) == 0)
		st->alloc = (uint64_t)sb.st_blocks * 512;
	st->data = st->alloc;
	r = out_commit(&o, dest, replace, err);
	if (r == 0 && progress)
		progress(ctx, total, total);
out:
	if (r < 0)
		out_abort(&o);
	close(in);
	free(ibuf);
	free(obuf);
	if (z_init)
		inflateEnd(&z);
	ZSTD_freeDCtx(dc);
	return r < 0 ? r : 0;
}
