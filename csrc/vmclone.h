/*
 * clone3 with CLONE_VM: a child that shares the caller's memory and runs a
 * function on a stack of its own, the way posix_spawn starts its child. The
 * cost does not grow with the caller's size (no page tables are copied);
 * a copy-on-write clone of a 2 GiB host costs ~60 ms, this ~0.1 ms.
 *
 * The contract for the function that runs in such a child:
 *   - it shares every byte with the caller, including the calling thread's
 *     TLS (errno): while it runs, the calling thread must not run (block on
 *     a pipe with every signal blocked, as isol_spawn does) or the child
 *     must not write anything but its own stack;
 *   - it must leave by execve or _exit (never return into the caller);
 *   - it must not enter another user namespace by setns (the kernel refuses
 *     a process whose memory is shared: EINVAL); clone3's CLONE_NEWUSER is
 *     fine.
 * The caller frees the stack (isol_vm_stack_free) once the child has
 * exec'd or exited.
 */
#ifndef ISOL_VMCLONE_H
#define ISOL_VMCLONE_H

#include <linux/sched.h>
#include <sys/types.h>

#include "error.h"

struct isol_vm_stack {
	void *base; /* mmap'd region, lowest page a guard; NULL: none */
	size_t size;
};

/* 1 when this build can run a child on its own stack (x86_64, aarch64;
 * not in AddressSanitizer builds: see vmclone.c). */
int isol_vmclone_supported(void);

/* A stack (with a guard page): the one the last free kept, else a new
 * mmap. Returns 0 or -errno. Thread-safe. */
int isol_vm_stack_alloc(struct isol_vm_stack *st, isol_error *err);
/* Keep the stack for the next alloc (one is kept), else munmap it. Only
 * once its child has exec'd or exited. */
void isol_vm_stack_free(struct isol_vm_stack *st);

/* A system call that writes no memory but what its arguments point to:
 * no errno (it returns -errno), no cancellation point (glibc's wrappers
 * flip a bit of the calling thread's descriptor). What a CLONE_VM child
 * may call while the thread it shares memory with runs (isol_spawn's
 * child before its release). Unused arguments: 0. */
long isol_vm_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* clone3(args | CLONE_VM) with args->stack set to `st`; the child runs
 * fn(arg) and exits with its return value. Returns the child's pid in the
 * caller, or -1 with errno set (ENOSYS: no entry for this architecture).
 * `args` is modified (flags, stack). */
pid_t isol_clone3_vm(struct clone_args *args, const struct isol_vm_stack *st, int (*fn)(void *), void *arg);

#endif
