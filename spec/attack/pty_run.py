"""Run a command on a fresh pseudo-terminal (its controlling terminal, in a
new session) and print everything that appears on the master side, then the
command's exit status as 'PTY-EXIT <n>'. Used by the TIOCSTI attack: the
bytes a sandbox pushes into the terminal come back as echo on the master.
Never touches the caller's own terminal. Usage: pty_run.py SECONDS CMD..."""
import os
import select
import signal
import sys
import time

limit = float(sys.argv[1])
argv = sys.argv[2:]
pid, master = os.forkpty()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
got = b""
end = time.monotonic() + limit
status = None
while time.monotonic() < end:
    r, _, _ = select.select([master], [], [], 0.1)
    if r:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            chunk = b""
        got += chunk
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        # drain what is left
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        break
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    status = -1
sys.stdout.write(got.decode("utf-8", "replace"))
sys.stdout.write("\nPTY-EXIT %d\n" % (os.waitstatus_to_exitcode(status) if status >= 0 else -1))
