/*
 * clone3 with CLONE_VM on a stack of the child's own (see vmclone.h): the
 * mmap'd stack and the tiny assembly entry that a new stack needs (a C
 * wrapper cannot return on a stack that has no frame of it).
 */
#define _GNU_SOURCE
#include "vmclone.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Deep enough for the child's steps (a few 4 KiB path buffers, netlink
 * messages); only the pages it touches are ever allocated. */
#define STACK_SIZE (1u << 20)
#define GUARD 4096u

/* long isol_clone3_tramp(struct clone_args *, size_t, int (*)(void *), void *)
 * The child starts at the top of its new stack, calls fn(arg) and exits. */
/* Not under AddressSanitizer: its shadow memory and per-thread stack
 * bounds assume one stack per thread (a child that execs mid-function
 * leaves its redzones poisoned for the next child on that address, and
 * every noreturn call warns); ASan builds take the copy-on-write clone. */
#if defined(__SANITIZE_ADDRESS__)
#elif defined(__x86_64__)
#define HAVE_TRAMP 1
__asm__(".text\n"
	".p2align 4\n"
	".type isol_clone3_tramp,@function\n"
	"isol_clone3_tramp:\n"
	"	mov %rcx, %r8\n"  /* arg: r8/r9 survive the syscall */
	"	mov %rdx, %r9\n"  /* fn */
	"	mov $435, %eax\n" /* __NR_clone3 */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n" /* child: outermost frame */
	"	mov %r8, %rdi\n"
	"	call *%r9\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n" /* __NR_exit */
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size isol_clone3_tramp, .-isol_clone3_tramp\n");
#elif defined(__aarch64__)
#define HAVE_TRAMP 1
__asm__(".text\n"
	".p2align 4\n"
	".type isol_clone3_tramp,%function\n"
	"isol_clone3_tramp:\n"
	"	mov x10, x2\n"  /* fn: x2..x11 survive svc */
	"	mov x11, x3\n"  /* arg */
	"	mov x8, #435\n" /* __NR_clone3 */
	"	svc #0\n"
	"	cbnz x0, 1f\n"
	"	mov x29, xzr\n"
	"	mov x30, xzr\n"
	"	mov x0, x11\n"
	"	blr x10\n"
	"	mov x8, #93\n" /* __NR_exit */
	"	svc #0\n"
	"	brk #0\n"
	"1:	ret\n"
	".size isol_clone3_tramp, .-isol_clone3_tramp\n");
#endif

#ifdef HAVE_TRAMP
long isol_clone3_tramp(struct clone_args *args, size_t size, int (*fn)(void *), void *arg)
	__attribute__((visibility("hidden")));
#endif

int isol_vmclone_supported(void)
{
#ifdef HAVE_TRAMP
	return 1;
#else
	return 0;
#endif
}

/* One stack kept for the next spawn (taken and put back atomically: a
 * thread that finds it taken maps its own). Mapping, guarding, faulting in
 * and unmapping (a TLB flush) a fresh stack cost about 30 us per spawn;
 * the kept one costs the few pages a child touched. */
static void *kept_stack;

int isol_vm_stack_alloc(struct isol_vm_stack *st, isol_error *err)
{
	void *p = __atomic_exchange_n(&kept_stack, NULL, __ATOMIC_ACQ_REL);

	if (p) {
		st->base = p;
		st->size = STACK_SIZE + GUARD;
		return 0;
	}
	p = mmap(NULL, STACK_SIZE + GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	st->base = NULL;
	st->size = 0;
	if (p == MAP_FAILED)
		return isol_fail(err, errno, "mmap child stack");
	if (mprotect((char *)p + GUARD, STACK_SIZE, PROT_READ | PROT_WRITE) < 0) {
		int e = errno;
		munmap(p, STACK_SIZE + GUARD);
		return isol_fail(err, e, "mprotect child stack");
	}
	st->base = p;
	st->size = STACK_SIZE + GUARD;
	return 0;
}

void isol_vm_stack_free(struct isol_vm_stack *st)
{
	void *none = NULL;

	if (st->base &&
	    !__atomic_compare_exchange_n(&kept_stack, &none, st->base, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		munmap(st->base, st->size);
	st->base = NULL;
	st->size = 0;
}

long isol_vm_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
	/* No CLONE_VM child on this architecture (isol_vmclone_supported):
	 * the child is a copy, and errno its own. */
	long r = syscall(nr, a1, a2, a3, a4, a5, a6);

	return r < 0 ? -errno : r;
#endif
}

pid_t isol_clone3_vm(struct clone_args *args, const struct isol_vm_stack *st, int (*fn)(void *), void *arg)
{
#ifdef HAVE_TRAMP
	long r;

	args->flags |= CLONE_VM;
	args->stack = (uint64_t)(uintptr_t)((char *)st->base + GUARD);
	args->stack_size = st->size - GUARD;
	r = isol_clone3_tramp(args, sizeof *args, fn, arg);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (pid_t)r;
#else
	(void)args, (void)st, (void)fn, (void)arg;
	errno = ENOSYS;
	return -1;
#endif
}
