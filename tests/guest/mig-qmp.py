#!/usr/bin/python3
"""QMP driver for tests/guest/test-migration.sh (Debian's python3 only).

  mig-qmp.py status SOCK [WANT] [TIMEOUT]
      print the VM's run state; with WANT, wait until it is WANT (exit 1 on
      timeout).  Also waits for SOCK to accept connections.
  mig-qmp.py migrate SRC DST URI [TIMEOUT] [PARAMS-JSON]
      migrate-set-parameters PARAMS on the source, migrate to URI, poll
      query-migrate until completed or failed; print "key=value" lines
      (status, total-time, downtime, setup-time, RAM figures, the run states
      of both ends).  Exit 0 when completed with the source in postmigrate
      and the destination running, 77 when QEMU refuses to migrate because
      of a blocker (the reason in blocked=), 1 otherwise.
  mig-qmp.py blockers SOCK
      print query-migrate's blocked-reasons (QEMU >= 6.0), one a line;
      exit 77 when there is any (QEMU would refuse to migrate), else 0.
  mig-qmp.py quit SOCK
      quit the VM.
  mig-qmp.py send SOCK TEXT
      connect to a chardev server socket (a serial port), write TEXT and a
      newline, linger a moment so QEMU reads it, close.

Every command and reply goes to stderr with a timestamp (the test's QMP log).
"""
import json
import socket
import sys
import time


def log(*a):
    print("%.3f" % time.time(), *a, file=sys.stderr, flush=True)


class QMP:
    def __init__(self, path, timeout=20.0):
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.settimeout(timeout)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.path = path
        self.f = self.s.makefile("rw")
        self.reply()  # greeting
        self.cmd("qmp_capabilities")

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("QMP %s closed" % self.path)
            m = json.loads(line)
            if "event" in m:
                log(self.path, "event", m["event"], json.dumps(m.get("data", {})))
                continue
            return m

    def cmd(self, name, args=None, quiet=False):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        r = self.reply()
        if not quiet or "error" in r:
            log(self.path, json.dumps(msg), "->", json.dumps(r))
        return r

    def status(self):
        r = self.cmd("query-status", quiet=True)
        return r.get("return", {}).get("status", "?")


def cmd_status(argv):
    path = argv[0]
    want = argv[1] if len(argv) > 1 else None
    timeout = float(argv[2]) if len(argv) > 2 else 20.0
    q = QMP(path, timeout)
    deadline = time.time() + timeout
    st = q.status()
    while want and st != want and time.time() < deadline:
        time.sleep(0.1)
        st = q.status()
    print(st)
    return 0 if not want or st == want else 1


def cmd_migrate(argv):
    src_path, dst_path, uri = argv[0], argv[1], argv[2]
    timeout = float(argv[3]) if len(argv) > 3 else 60.0
    params = json.loads(argv[4]) if len(argv) > 4 and argv[4] else {}
    src = QMP(src_path)
    dst = QMP(dst_path)
    print("dst-before=%s" % dst.status())
    if params:
        r = src.cmd("migrate-set-parameters", params)
        if "error" in r:
            print("error=%s" % r["error"].get("desc"))
            return 1
    t0 = time.time()
    r = src.cmd("migrate", {"uri": uri})
    if "error" in r:
        desc = r["error"].get("desc", "")
        # A migration blocker (e.g. "vhost lacks VHOST_F_LOG_ALL feature")
        # is a missing capability, not a failure of the migration.
        if "disabled" in desc or "blocked" in desc or "LOG_ALL" in desc:
            print("blocked=%s" % desc.replace("\n", " "))
            return 77
        print("error=%s" % desc)
        return 1
    last = None
    info = {}
    while True:
        info = src.cmd("query-migrate", quiet=True).get("return", {})
        st = info.get("status", "?")
        if st != last:
            log(src_path, "migration status", st)
            last = st
        if st in ("completed", "failed", "cancelled"):
            break
        if time.time() - t0 > timeout:
            print("error=not completed after %.0fs (status %s, remaining %s)"
                  % (timeout, st, info.get("ram", {}).get("remaining")))
            src.cmd("migrate_cancel")
            break
        time.sleep(0.05)
    log(src_path, "query-migrate", json.dumps(info))
    ram = info.get("ram", {})
    out = {
        "status": info.get("status"),
        "total-time": info.get("total-time"),
        "downtime": info.get("downtime"),
        "setup-time": info.get("setup-time"),
        "expected-downtime": info.get("expected-downtime"),
        "ram-transferred": ram.get("transferred"),
        "ram-total": ram.get("total"),
        "ram-normal-pages": ram.get("normal"),
        "ram-duplicate-pages": ram.get("duplicate"),
        "ram-dirty-sync-count": ram.get("dirty-sync-count"),
        "ram-mbps": ram.get("mbps"),
        "error-desc": info.get("error-desc"),
    }
    for k, v in out.items():
        if v is not None:
            print("%s=%s" % (k, v))
    # The destination resumes on its own (autostart): give it a moment.
    dst_st = dst.status()
    deadline = time.time() + 10
    while dst_st != "running" and time.time() < deadline:
        time.sleep(0.1)
        dst_st = dst.status()
    src_st = src.status()
    print("src-state=%s" % src_st)
    print("dst-state=%s" % dst_st)
    ok = info.get("status") == "completed" and src_st == "postmigrate" and dst_st == "running"
    return 0 if ok else 1


def cmd_blockers(argv):
    q = QMP(argv[0])
    reasons = q.cmd("query-migrate").get("return", {}).get("blocked-reasons", [])
    for r in reasons:
        print(r.replace("\n", " "))
    return 77 if reasons else 0


def cmd_quit(argv):
    q = QMP(argv[0])
    try:
        q.cmd("quit")
    except (EOFError, OSError):
        pass  # QEMU may close the socket before it answers
    return 0


def cmd_send(argv):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(argv[0])
    s.sendall((argv[1] + "\n").encode())
    log(argv[0], "sent", repr(argv[1]))
    time.sleep(0.5)
    s.close()
    return 0


def main():
    cmds = {"status": cmd_status, "migrate": cmd_migrate, "blockers": cmd_blockers,
            "quit": cmd_quit, "send": cmd_send}
    if len(sys.argv) < 3 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[sys.argv[1]](sys.argv[2:])
    except (OSError, EOFError, ValueError) as e:
        print("error=%s: %s" % (type(e).__name__, e))
        log("error", repr(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
