#!/usr/bin/env python3
"""Run a command as a child; when it exits, write the CPU seconds it used.

    bench/cpuwrap.py OUTFILE COMMAND [ARGS...]

QEMU's contrib/vhost-user-scsi exits as soon as its frontend disconnects,
before its /proc/PID/stat could be read at the end of a point, so its
user + system time comes from wait4() instead.
"""
import os
import sys

pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{ru.ru_utime + ru.ru_stime:.3f}\n")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
