/* Device rules on cgroup v2: a BPF_CGROUP_DEVICE program built from the
 * rules (pure, into the caller's buffer), loaded with bpf(2) and attached. */
#define _GNU_SOURCE
#include "devices_bpf.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i)                                                                                  \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_W | BPF_MEM, d, s, o, 0)
#define MOV32_REG(d, s) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define ALU32_IMM(op, d, i) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, i)
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define JMP_IMM(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define MAX_INSNS 4096

int isol_dev_bpf_build(struct bpf_insn *p, int max, int default_allow, const struct isol_dev_rule *rules,
		       size_t n)
{
	int k = 0;

	/* r1 = ctx (struct bpf_cgroup_dev_ctx): access_type, major, minor. */
	p[k++] = LDX_W(2, 1, 0);                /* r2 = access_type */
	p[k++] = MOV32_REG(3, 2);               /* r3 = access_type */
	p[k++] = ALU32_IMM(BPF_AND, 2, 0xffff); /* r2 = device type */
	p[k++] = ALU32_IMM(BPF_RSH, 3, 16);     /* r3 = requested access */
	p[k++] = LDX_W(4, 1, 4);                /* r4 = major */
	p[k++] = LDX_W(5, 1, 8);                /* r5 = minor */
	/* Deny rules first, then allow rules: the first match decides. */
	for (int pass = 0; pass <= 1; pass++)
		for (size_t i = 0; i < n; i++) {
			const struct isol_dev_rule *r = &rules[i];
			int jumps[8], nj = 0;
			if (r->allow != pass)
				continue;
			if (k + 12 > max - 2)
				return -E2BIG;
			if (r->type != 'a') {
				jumps[nj++] = k;
				p[k++] =
					JMP_IMM(BPF_JNE, 2,
						r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
			}
			if ((r->access & ISOL_DEV_ALL) != ISOL_DEV_ALL) {
				p[k++] = MOV32_REG(1, 3);
				if (r->allow) {
					/* allow matches when nothing outside its access is asked */
					p[k++] = ALU32_IMM(BPF_AND, 1, (int)(~r->access & ISOL_DEV_ALL));
					jumps[nj++] = k;
					p[k++] = JMP_IMM(BPF_JNE, 1, 0, 0);
				} else {
					/* deny matches when any of its access is asked */
					p[k++] = ALU32_IMM(BPF_AND, 1, (int)r->access);
					jumps[nj++] = k;
					p[k++] = JMP_IMM(BPF_JEQ, 1, 0, 0);
				}
			}
			if (r->type != 'a' && r->major >= 0) {
				jumps[nj++] = k;
				p[k++] = JMP_IMM(BPF_JNE, 4, r->major, 0);
			}
			if (r->type != 'a' && r->minor >= 0) {
				jumps[nj++] = k;
				p[k++] = JMP_IMM(BPF_JNE, 5, r->minor, 0);
			}
			p[k++] = MOV64_IMM(0, r->allow);
			p[k++] = EXIT();
			for (int j = 0; j < nj; j++)
				p[jumps[j]].off = (short)(k - jumps[j] - 1);
		}
	p[k++] = MOV64_IMM(0, default_allow ? 1 : 0);
	p[k++] = EXIT();
	return k;
}

int isol_dev_apply_v2(int cgroup_fd, int default_allow, const struct isol_dev_rule *rules, size_t n,
		      isol_error *err)
{
	/* The caller's buffer, sized for these rules (B10: no static buffer,
	 * so concurrent lua_States or threads can apply programs at once). */
	size_t cap = 8 + 12 * n;
	struct bpf_insn *prog;
	char log[2048];
	union bpf_attr attr;
	int cnt, fd;

	if (n > (MAX_INSNS - 8) / 12 + 1 || !(prog = calloc(cap < MAX_INSNS ? cap : MAX_INSNS, sizeof *prog)))
		return isol_failx(err, E2BIG, "device program: too many rules (%zu)", n);
	cnt = isol_dev_bpf_build(prog, cap < MAX_INSNS ? (int)cap : MAX_INSNS, default_allow, rules, n);
	if (cnt < 0) {
		free(prog);
		return isol_failx(err, E2BIG, "device program: too many rules (%zu)", n);
	}
	memset(&attr, 0, sizeof attr);
	log[0] = '\0';
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)cnt;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	/* no log buffer at first: the kernel refuses one with log_level 0
	 * (EINVAL), and at level 1 a log longer than the buffer fails the load
	 * (ENOSPC on Linux 6.1) */
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
	if (fd < 0 && errno != EPERM && errno != ENOSYS) {
		/* retry with the verifier's log for the message */
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = sizeof log;
		attr.log_level = 1;
		fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
	}
	{
		int e = errno;
		free(prog); /* the kernel copied it */
		errno = e;
	}
	if (fd < 0) {
		int e = errno;
		log[sizeof log - 1] = '\0';
		if (log[0])
			return isol_failx(err, e, "load BPF_CGROUP_DEVICE program (%d insns): %s: %.300s",
					  cnt, strerror(e), log);
		return isol_fail(err, e, "load BPF_CGROUP_DEVICE program (%d insns)", cnt);
	}
	memset(&attr, 0, sizeof attr);
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) < 0) {
		int e = errno;
		close(fd);
		return isol_fail(err, e, "attach BPF_CGROUP_DEVICE program");
	}
	close(fd); /* the attachment holds the program */
	return 0;
}
