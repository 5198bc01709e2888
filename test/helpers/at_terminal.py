"""Runs a command in a pseudo-terminal and answers its prompts, as a person
at a terminal would. Answers come from $PTY_ANSWERS (one per line, never
argv); each is typed after the next prompt ending in ': ' appears. Prints
everything the terminal showed, then exits with the command's exit code."""
import os
import pty
import select
import sys
import time

answers = [a for a in os.environ.pop("PTY_ANSWERS", "").split("\n") if a != ""]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

seen = b""
typed = 0
deadline = time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    prompts = seen.count(b": ")
    if typed < len(answers) and prompts > typed:
        os.write(fd, answers[typed].encode() + b"\r")
        typed += 1
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
