/*
 * The isol-init executable (built from isol-init.c by the Makefile) as
 * read-only data of core.so: isol_init_blob .. isol_init_blob_end.
 * init.c copies it into a sealed memfd once per process.
 */
	.section .rodata
	.balign 16
	.globl isol_init_blob
	.hidden isol_init_blob
	.type isol_init_blob, @object
isol_init_blob:
	.incbin ISOL_INIT_BIN
	.globl isol_init_blob_end
	.hidden isol_init_blob_end
isol_init_blob_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
