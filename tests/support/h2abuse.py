#!/usr/bin/python3
"""An HTTP/2 client that misbehaves on purpose, for tests/integ/test_h2.c.

It writes raw frames (struct) on a cleartext prior-knowledge connection, so
that it can do what a well-behaved library refuses to do; header blocks go
through python3-hpack. Each mode prints what the gateway answered as
"key=value" lines, one per fact, and exits 0 (1 on a usage error):

  h2abuse.py PORT settings              the server's SETTINGS
  h2abuse.py PORT concurrent N PATH     N streams at once, before our SETTINGS
                                        ACK: ok=, refused=, other=
  h2abuse.py PORT concurrent-acked N PATH   the same after the ACK
  h2abuse.py PORT rapid-reset N         N x (HEADERS, RST_STREAM) at once
  h2abuse.py PORT continuation N        HEADERS without END_HEADERS, then up to
                                        N CONTINUATION frames of 1 KiB
  h2abuse.py PORT settings-flood N      N SETTINGS frames at once
  h2abuse.py PORT ping-flood N          N PING frames at once
  h2abuse.py PORT zero-window PATH SECS window 0, GET PATH, never a
                                        WINDOW_UPDATE; watches SECS seconds
  h2abuse.py PORT slow-read PATH SECS   big windows, but reads the socket
                                        slowly (4 KiB every 10 ms) for SECS

Facts: goaway=<error code name> (or goaway=none), closed=1 when the gateway
closed the connection, rst=<code name> for streams it reset, t_rst / t_close
seconds since the request, sent= frames written before the gateway closed.
"""
import socket
import struct
import sys
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH, PING, GOAWAY, WINDOW_UPDATE, CONT = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
          "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
          "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
          "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
SETTING_NAMES = {1: "header_table_size", 2: "enable_push", 3: "max_concurrent_streams",
                 4: "initial_window_size", 5: "max_frame_size", 6: "max_header_list_size"}


def err_name(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


class Conn:
    def __init__(self, port, settings=b""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.closed = False
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.port = port
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))

    def send(self, data):
        """Returns False once the gateway closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            # what the gateway wrote before it closed may still be read
            return False

    def headers(self, sid, path, end_stream=True, extra=()):
        hdrs = [(":method", "GET"), (":scheme", "http"), (":path", path),
                (":authority", "127.0.0.1:%d" % self.port)] + list(extra)
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        return frame(HEADERS, flags, sid, self.enc.encode(hdrs))

    def read_frame(self, deadline, chunk=65536):
        """The next frame as (type, flags, sid, payload), or None at the
        deadline or when the gateway closed the connection."""
        while True:
            if len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) >= 9 + n:
                    t, fl, sid = struct.unpack(">BBI", self.buf[3:9])
                    p = self.buf[9:9 + n]
                    self.buf = self.buf[9 + n:]
                    return t, fl, sid & 0x7FFFFFFF, p
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(chunk)
            except socket.timeout:
                return None
            except OSError:
                b = b""
            if not b:
                self.closed = True
                return None
            self.buf += b


def out(key, value):
    print("%s=%s" % (key, value), flush=True)


def server_settings(c, deadline):
    """Reads up to the server's SETTINGS; returns them as a dict."""
    while True:
        f = c.read_frame(deadline)
        if f is None:
            return {}
        t, fl, _, p = f
        if t == SETTINGS and not fl & ACK:
            s = {}
            for i in range(0, len(p), 6):
                k, v = struct.unpack(">HI", p[i:i + 6])
                s[SETTING_NAMES.get(k, str(k))] = v
            return s


def watch(c, secs, on_frame=None):
    """Reads frames for <secs> or until the connection closes; prints the
    GOAWAY and whether it closed."""
    t0 = time.monotonic()
    deadline = t0 + secs
    goaway = None
    while True:
        f = c.read_frame(deadline)
        if f is None:
            break
        t, fl, sid, p = f
        if t == GOAWAY:
            last, code = struct.unpack(">II", p[:8])
            goaway = err_name(code)
            out("goaway_last_stream", last & 0x7FFFFFFF)
        elif t == PING and not fl & ACK:
            c.send(frame(PING, ACK, 0, p))
        elif on_frame:
            on_frame(t, fl, sid, p)
    out("goaway", goaway or "none")
    out("closed", 1 if c.closed else 0)
    if c.closed:
        out("t_close", "%.2f" % (time.monotonic() - t0))


def mode_settings(c, args):
    s = server_settings(c, time.monotonic() + 5)
    for k in sorted(s):
        out(k, s[k])


def mode_concurrent(c, args, acked):
    n, path = int(args[0]), args[1]
    if acked:
        server_settings(c, time.monotonic() + 5)
        c.send(frame(SETTINGS, ACK, 0))
        # the ACK takes effect when the server reads it: a PING round trip
        # says it did
        c.send(frame(PING, 0, 0, b"12345678"))
        deadline = time.monotonic() + 5
        while True:
            f = c.read_frame(deadline)
            if f is None or (f[0] == PING and f[1] & ACK):
                break
    c.send(b"".join(c.headers(1 + 2 * i, path) for i in range(n)))
    res = {}
    state = {"ok": 0, "refused": 0, "other": 0}

    def on_frame(t, fl, sid, p):
        if t == HEADERS and sid not in res:
            st = dict(c.dec.decode(p)).get(":status", "?")
            res[sid] = "status " + st
            state["ok" if st == "200" else "other"] += 1
        elif t == RST_STREAM:
            code = err_name(struct.unpack(">I", p)[0])
            res[sid] = "rst " + code
            state["refused" if code == "REFUSED_STREAM" else "other"] += 1
        if len(res) == n:
            raise StopIteration

    try:
        watch(c, 10, on_frame)
    except StopIteration:
        pass
    for k in ("ok", "refused", "other"):
        out(k, state[k])


def mode_rapid_reset(c, args):
    n = int(args[0])
    c.send(frame(SETTINGS, ACK, 0))
    sent = 0
    for i in range(n):
        sid = 1 + 2 * i
        if not c.send(c.headers(sid, "/slow/2000") + frame(RST_STREAM, 0, sid, struct.pack(">I", 8))):
            break
        sent += 1
    out("sent", sent)
    watch(c, 5)


def mode_continuation(c, args):
    n = int(args[0])
    c.send(frame(SETTINGS, ACK, 0))
    block = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":path", "/echo"),
                          (":authority", "x")])
    c.send(frame(HEADERS, END_STREAM, 1, block))
    sent = 0
    filler = hpack.Encoder()
    for i in range(n):
        # 1 KiB of literal fields per frame, never END_HEADERS
        piece = filler.encode([("x-pad-%d" % i, "p" * 1000)])
        if not c.send(frame(CONT, 0, 1, piece)):
            break
        sent += 1
    out("sent", sent)
    watch(c, 5)


def mode_flood(c, args, ftype):
    n = int(args[0])
    c.send(frame(SETTINGS, ACK, 0))
    f = frame(SETTINGS, 0, 0) if ftype == SETTINGS else frame(PING, 0, 0, b"abcdefgh")
    c.send(f * n)
    # what we do not read does not stall the gateway's answer: watch reads
    watch(c, 5)


def mode_zero_window(c, args):
    path, secs = args[0], float(args[1])
    # the SETTINGS we sent in the preface is replaced: window 0 for streams
    c.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)))
    server_settings(c, time.monotonic() + 5)
    c.send(frame(SETTINGS, ACK, 0))
    t0 = time.monotonic()
    c.send(c.headers(1, path))
    got = {"data": 0}

    def on_frame(t, fl, sid, p):
        if t == HEADERS and sid == 1:
            out("status", dict(c.dec.decode(p)).get(":status", "?"))
        elif t == DATA:
            got["data"] += len(p)
        elif t == RST_STREAM and sid == 1:
            out("rst", err_name(struct.unpack(">I", p)[0]))
            out("t_rst", "%.2f" % (time.monotonic() - t0))

    watch(c, secs, on_frame)
    out("data", got["data"])


def mode_slow_read(c, args):
    path, secs = args[0], float(args[1])
    c.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x7FFFFFFF)))
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF - 65535)))
    server_settings(c, time.monotonic() + 5)
    c.send(frame(SETTINGS, ACK, 0))
    c.send(c.headers(1, path))
    end = time.monotonic() + secs
    got = 0
    status = "?"
    while time.monotonic() < end:
        f = c.read_frame(time.monotonic() + 1, chunk=4096)
        if f is None:
            if c.closed:
                break
            continue
        t, fl, sid, p = f
        if t == HEADERS and sid == 1:
            status = dict(c.dec.decode(p)).get(":status", "?")
        elif t == DATA:
            got += len(p)
        time.sleep(0.01)
    out("status", status)
    out("data", got)
    out("closed", 1 if c.closed else 0)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 1
    port, mode, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    c = Conn(port)
    modes = {
        "settings": lambda: mode_settings(c, args),
        "concurrent": lambda: mode_concurrent(c, args, False),
        "concurrent-acked": lambda: mode_concurrent(c, args, True),
        "rapid-reset": lambda: mode_rapid_reset(c, args),
        "continuation": lambda: mode_continuation(c, args),
        "settings-flood": lambda: mode_flood(c, args, SETTINGS),
        "ping-flood": lambda: mode_flood(c, args, PING),
        "zero-window": lambda: mode_zero_window(c, args),
        "slow-read": lambda: mode_slow_read(c, args),
    }
    if mode not in modes:
        print(__doc__, file=sys.stderr)
        return 1
    modes[mode]()
    c.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
