#!/usr/bin/python3
"""A hostile vhost-user frontend: feeds the daemon malformed sessions and
checks after each one that it still answers a well-formed GET_FEATURES.

usage: bad-frontend.py SOCKET_PATH

Exit 0 when the daemon survived every case, 1 otherwise.  Only the Python
standard library is used.
"""

import os
import socket
import struct
import sys
import time

VERSION = 0x1
REPLY = 0x4
NEED_REPLY = 0x8

GET_FEATURES = 1
SET_FEATURES = 2
SET_OWNER = 3
SET_MEM_TABLE = 5
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
SET_VRING_BASE = 10
SET_VRING_KICK = 12
GET_PROTOCOL_FEATURES = 15
SET_PROTOCOL_FEATURES = 16
GET_QUEUE_NUM = 17
SET_VRING_ENABLE = 18
GET_CONFIG = 24

HDR = struct.Struct("<III")


def msg(req, payload=b"", flags=VERSION, size=None):
    if size is None:
        size = len(payload)
    return HDR.pack(req, flags, size) + payload


def connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def healthy(path):
    """A fresh, well-formed GET_FEATURES must get a proper reply.  The daemon
    may serve one frontend at a time, so allow it a moment to notice that the
    previous one went away."""
    deadline = time.time() + 10
    last = None
    while time.time() < deadline:
        try:
            s = connect(path, timeout=3)
            s.sendall(msg(GET_FEATURES))
            req, flags, size = HDR.unpack(recv_exact(s, HDR.size))
            body = recv_exact(s, size)
            s.close()
            if req != GET_FEATURES or not flags & REPLY or size != 8:
                return "bad reply: req=%d flags=%#x size=%d" % (req, flags, size)
            features = struct.unpack("<Q", body)[0]
            if not features & (1 << 32):  # VIRTIO_F_VERSION_1
                return "features %#x lack VIRTIO_F_VERSION_1" % features
            return None
        except (OSError, EOFError) as e:
            last = e
            time.sleep(0.2)
    return "no answer to GET_FEATURES: %s" % last


def send_and_close(path, data, linger=0.2):
    s = connect(path)
    try:
        s.sendall(data)
    except OSError:
        pass  # the daemon may already have dropped us: that is fine
    time.sleep(linger)
    s.close()


def expect_drop(path, data):
    """Send data; the daemon should close the connection (or at least not
    crash).  Returns a note for the log."""
    s = connect(path)
    try:
        s.sendall(data)
        s.settimeout(3)
        got = s.recv(4096)
        note = "closed by daemon" if not got else "daemon answered %d bytes" % len(got)
    except socket.timeout:
        note = "daemon kept the connection open"
    except OSError as e:
        note = "connection error %s" % e
    s.close()
    return note


def many_closes(path, n):
    for _ in range(n):
        send_and_close(path, b"", 0)
    return ""


def cases():
    rnd = os.urandom
    yield "connect and hang up", lambda p: send_and_close(p, b"")
    yield "garbage bytes", lambda p: send_and_close(p, rnd(997))
    yield "half a header", lambda p: send_and_close(p, msg(GET_FEATURES)[:6])
    yield "GET_FEATURES header then hang up", lambda p: send_and_close(p, msg(GET_FEATURES), 0)
    yield "huge size field", lambda p: expect_drop(p, msg(GET_FEATURES, size=0xFFFFFFFF) + rnd(64))
    yield "huge size on SET_MEM_TABLE", lambda p: expect_drop(p, msg(SET_MEM_TABLE, size=0x7FFFFFF0) + rnd(256))
    yield "unknown request 0xdead", lambda p: expect_drop(p, msg(0xDEAD, rnd(8)))
    yield "request 0", lambda p: expect_drop(p, msg(0, b""))
    yield "bad version flags", lambda p: expect_drop(p, msg(GET_FEATURES, flags=0x7))
    # SET_MEM_TABLE claiming 8 regions but carrying no fds.
    region = struct.pack("<QQQQ", 0, 1 << 20, 0x7F0000000000, 0)
    mem = struct.pack("<II", 8, 0) + region * 8
    yield "SET_MEM_TABLE without fds", lambda p: expect_drop(p, msg(SET_OWNER) + msg(SET_MEM_TABLE, mem))
    # Region count larger than the payload.
    yield "SET_MEM_TABLE count > payload", lambda p: expect_drop(
        p, msg(SET_MEM_TABLE, struct.pack("<II", 1000, 0) + region))
    # Ring operations on a queue index far out of range, before any setup.
    yield "SET_VRING_NUM index 4096", lambda p: expect_drop(
        p, msg(SET_VRING_NUM, struct.pack("<II", 4096, 256)))
    yield "SET_VRING_ADDR index 0xffffffff", lambda p: expect_drop(
        p, msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0xFFFFFFFF, 0, 1, 2, 3, 4)))
    yield "SET_VRING_BASE short payload", lambda p: expect_drop(p, msg(SET_VRING_BASE, b"\x00\x00"))
    yield "SET_VRING_KICK without fd", lambda p: expect_drop(
        p, msg(SET_VRING_KICK, struct.pack("<Q", 0)))
    yield "SET_VRING_NUM 0 and 65535", lambda p: expect_drop(
        p, msg(SET_VRING_NUM, struct.pack("<II", 0, 0)) + msg(SET_VRING_NUM, struct.pack("<II", 0, 65535)))
    yield "GET_CONFIG size 0xffffffff", lambda p: expect_drop(
        p, msg(GET_CONFIG, struct.pack("<III", 0, 0xFFFFFFFF, 0) + b"\x00" * 16))
    yield "SET_FEATURES with every bit", lambda p: expect_drop(
        p, msg(SET_FEATURES, struct.pack("<Q", 0xFFFFFFFFFFFFFFFF)) + msg(GET_FEATURES))
    yield "NEED_REPLY on unknown request", lambda p: expect_drop(
        p, msg(0x7777, b"", flags=VERSION | NEED_REPLY))
    yield "10 MiB of zeros", lambda p: send_and_close(p, b"\x00" * (10 << 20), 0)
    yield "50 quick connect/close", lambda p: many_closes(p, 50)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    path = argv[1]
    bad = 0
    for name, fn in cases():
        try:
            note = fn(path)
        except (OSError, EOFError) as e:
            note = "client error: %s" % e
        problem = healthy(path)
        if problem:
            print("FAIL %-36s %s (%s)" % (name, problem, note or ""))
            bad += 1
        else:
            print("ok   %-36s %s" % (name, note or ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
