/*
 * execve with a PATH search, as execvpe does, but with a stack buffer
 * (execvpe may allocate): usable between clone and exec, and linked into
 * isol's init. No isol_error: the caller builds its own message.
 */
#ifndef ISOL_EXECPATH_H
#define ISOL_EXECPATH_H

/* Exec `file` with argv and envp. A file with a '/' is exec'd as is;
 * otherwise each element of PATH (from envp; a default when envp has none)
 * is tried in turn; an empty element (leading, middle or trailing) means
 * the current directory, as in POSIX shells.
 * Returns only on failure: -errno (ENOENT: found nowhere; EACCES: found
 * but not executable anywhere), and *tried points to `file` or to
 * `buf` (the candidate that failed with another errno), buf having at
 * least 4096 bytes. */
int isol_exec_path(const char *file, char *const argv[], char *const envp[], char *buf, const char **tried);

#endif
