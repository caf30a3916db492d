#!/usr/bin/env python3
"""A collector stand-in for the exporter tests: a threaded HTTP/1.1 server on
127.0.0.1 that takes whatever an OTLP/HTTP or Zipkin exporter POSTs, stores
each request on disk, and answers as told, so a test can check the exact bytes
an exporter sent and how it reacts to a collector that fails. It parses with
its own code, independent of the gateway's, and prints "READY <port>" on
stdout once listening.

Usage:
  sink.py --dir DIR [--port N] [--fault SCRIPT] [--control FILE]
          [--max-seconds S] [--store all|none]
  --dir DIR        where requests are stored (created if missing)
  --port N         0 (default) = an ephemeral port, printed in READY
  --fault SCRIPT   the initial fault script (default "ok"), see below
  --control FILE   a fault script to follow whenever FILE changes, see below
  --max-seconds S  exit 0 by itself after S seconds (default 900; 0 = never)
  --store none     count requests without writing them (benchmarks)

Requests (any method, any path outside /_sink/) are kept keep-alive,
pipelined or not; bodies with Content-Length or chunked (Expect:
100-continue is answered). Each one is stored, before any answer, as
  DIR/<seq>.body  the body, decoded if Content-Encoding is gzip or deflate
  DIR/<seq>.json  {"seq", "method", "target", "path", "version",
                   "headers": [[name, value], ...] in wire order and case,
                   "content_type", "encoding" (Content-Encoding or null),
                   "chunked", "wire_length" (body bytes as sent),
                   "body_length" (after decoding), "decode_error" (or null),
                   "connection" (serial, from 1), "request_on_connection",
                   "action" (what the sink did: "200", "503", "hang", "close")}
<seq> counts from 1 without padding. The .json is written after the .body
and renamed into place, so when it exists the pair is complete. A request
that cannot be parsed (bad request line or chunk, head over 64 KiB, body over
64 MiB) gets 400 and a close, and is not stored.

Fault script: whitespace- or comma-separated steps, each ACTION[*COUNT]. A
step with a count applies to that many requests, then the next step takes
over; a step without one applies from then on. When every step is used up
the sink answers "ok". Actions:
  ok                200; for application/json a body of {} with that type,
                    for application/x-protobuf zero bytes (an empty
                    ExportTraceServiceResponse) with that type, otherwise
                    empty. A body that could not be decoded (bad gzip,
                    unknown Content-Encoding) gets 400 instead, as a real
                    collector would answer.
  status:NNN[:NAME=VALUE...]
                    that status, empty body, plus one header per NAME=VALUE,
                    e.g. status:503:retry-after=1 -> "retry-after: 1"
  hang              read the request, never answer, keep the connection open
  close             read the request, close the connection without a word
Any action takes :delay=MS to wait that long first (ok:delay=2000).
Examples: "status:503:retry-after=1*2 ok", "status:429*1", "hang".
A sink that is not running plays "refuse".

Control while running (the step counter restarts with a new script):
  POST /_sink/fault  body = a script: replaces the current one; answers the
                     new state, 400 on a bad script
  GET  /_sink/fault  {"script", "step", "used"}
  control file       checked before each request; when its inode, size or
                     mtime changes, its content replaces the script (write
                     it elsewhere and rename it into place)
  GET  /_sink/stats  {"requests", "connections", "open", "by_status"}:
                     requests stored, connections accepted, connections
                     open now, and per action ("200", "503", "hang", ...)
  GET  /_sink/wait?requests=N&timeout_ms=T
                     answers once N requests are stored or after T ms
                     (default 10000, at most 60000), with the stats; so a
                     test waits for an exporter without sleeping
Control requests are neither stored nor counted.
"""
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import zlib

REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Payload Too Large", 415: "Unsupported Media Type",
           429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
MAX_HEAD = 65536
MAX_BODY = 64 << 20

lock = threading.Lock()
changed = threading.Condition(lock)
stats = {"requests": 0, "connections": 0, "open": 0, "by_status": {}}


class BadRequest(Exception):
    pass


class BadScript(ValueError):
    pass


def parse_action(text):
    """'status:503:retry-after=1' -> {"kind", "status", "headers", "delay"}."""
    parts = text.split(":")
    act = {"kind": parts[0], "status": 200, "headers": [], "delay": 0.0}
    rest = parts[1:]
    if act["kind"] == "status":
        if not rest or not re.fullmatch(r"[1-5][0-9][0-9]", rest[0]):
            raise BadScript("status needs a code: %r" % text)
        act["status"] = int(rest[0])
        rest = rest[1:]
    elif act["kind"] not in ("ok", "hang", "close"):
        raise BadScript("unknown action: %r" % text)
    for opt in rest:
        name, eq, value = opt.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z0-9-]+", name):
            raise BadScript("bad option %r in %r" % (opt, text))
        if name == "delay":
            act["delay"] = int(value) / 1000.0
        elif act["kind"] == "status":
            act["headers"].append((name, value))
        else:
            raise BadScript("only status takes headers: %r" % text)
    return act


def parse_script(text):
    """A script -> list of [action, count or None]; raises BadScript."""
    steps = []
    for word in re.split(r"[\s,]+", text.strip()):
        if not word:
            continue
        body, star, count = word.partition("*")
        if star and not count.isdigit():
            raise BadScript("bad count in %r" % word)
        steps.append([parse_action(body), int(count) if star else None])
    if not steps:
        raise BadScript("empty script")
    return steps


class Faults:
    """The current script and where in it we are; callers hold <lock>."""

    def __init__(self, script):
        self.set(script)
        self.control = None
        self.control_sig = None

    def set(self, script):
        self.steps = parse_script(script)
        self.script = " ".join(script.split())
        self.step = 0
        self.used = 0

    def next_action(self):
        self.poll_control()
        while self.step < len(self.steps):
            act, count = self.steps[self.step]
            if count is None:
                return act
            if self.used < count:
                self.used += 1
                return act
            self.step += 1
            self.used = 0
        return parse_action("ok")

    def poll_control(self):
        if not self.control:
            return
        try:
            st = os.stat(self.control)
        except OSError:
            return
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sig == self.control_sig:
            return
        self.control_sig = sig
        try:
            with open(self.control) as f:
                self.set(f.read())
        except (OSError, BadScript) as e:
            print("sink: control file ignored: %s" % e, file=sys.stderr, flush=True)

    def state(self):
        return {"script": self.script, "step": self.step, "used": self.used}


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, sep, limit):
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                break
            if len(self.buf) > limit:
                raise BadRequest("line or head too long")
            start = max(0, len(self.buf) - len(sep) + 1)
            self.fill()
        i += len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_n(self, n):
        parts, have = [self.buf[:n]], min(len(self.buf), n)
        self.buf = self.buf[n:]
        while have < n:
            data = self.sock.recv(min(1 << 20, max(65536, n - have)))
            if not data:
                raise EOFError
            take = data[:n - have]
            parts.append(take)
            have += len(take)
            self.buf = data[len(take):]
        return b"".join(parts)


def read_head(c):
    head = c.read_until(b"\r\n\r\n", MAX_HEAD)
    lines = head[:-4].split(b"\r\n")
    try:
        method, target, version = lines[0].decode("latin-1").split(" ", 2)
    except ValueError:
        raise BadRequest("bad request line")
    headers = []
    for line in lines[1:]:
        k, colon, v = line.partition(b":")
        if not colon or not k or k != k.strip():
            raise BadRequest("bad header line")
        headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
    return method, target, version, headers


def field(headers, name):
    """The last value of header <name> (case-insensitive) or None."""
    out = None
    for k, v in headers:
        if k.lower() == name:
            out = v
    return out


def read_body(c, headers):
    """Returns (wire bytes of the body, chunked?)."""
    te = (field(headers, "transfer-encoding") or "").lower()
    if te:
        if te != "chunked":
            raise BadRequest("unsupported transfer-encoding")
        parts, total = [], 0
        while True:
            line = c.read_until(b"\r\n", 4096)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                while c.read_until(b"\r\n", MAX_HEAD) != b"\r\n":
                    pass  # trailer fields are read and dropped
                return b"".join(parts), True
            total += size
            if total > MAX_BODY:
                raise BadRequest("body too large")
            data = c.read_n(size + 2)
            if data[-2:] != b"\r\n":
                raise BadRequest("chunk without CRLF")
            parts.append(data[:-2])
    cl = field(headers, "content-length")
    if cl is None:
        return b"", False
    if not cl.isdigit() or int(cl) > MAX_BODY:
        raise BadRequest("bad content-length")
    return c.read_n(int(cl)), False


def decode(body, encoding):
    """Returns (decoded body, error or None)."""
    enc = (encoding or "identity").strip().lower()
    try:
        if enc == "identity":
            return body, None
        if enc in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS), None
        if enc == "deflate":
            return zlib.decompress(body), None
    except zlib.error as e:
        return body, "%s: %s" % (enc, e)
    return body, "unsupported content-encoding %s" % enc


def send(sock, status, headers, body=b""):
    out = "HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Status"))
    for k, v in list(headers) + [("Content-Length", len(body))]:
        out += "%s: %s\r\n" % (k, v)
    sock.sendall(out.encode("latin-1") + b"\r\n" + body)


class Server:
    def __init__(self, directory, faults, keep=True):
        self.dir = directory
        self.faults = faults
        self.keep = keep
        self.seq = 0

    def store(self, meta, body):
        """Writes <seq>.body then <seq>.json; returns seq."""
        with lock:
            self.seq += 1
            seq = self.seq
        meta["seq"] = seq
        if not self.keep:
            return seq
        base = os.path.join(self.dir, str(seq))
        with open(base + ".body", "wb") as f:
            f.write(body)
        with open(base + ".json.tmp", "w") as f:
            f.write(json.dumps(meta) + "\n")
        os.rename(base + ".json.tmp", base + ".json")
        return seq

    def count(self, action):
        with lock:
            stats["requests"] += 1
            by = stats["by_status"]
            by[action] = by.get(action, 0) + 1
            changed.notify_all()

    def snapshot(self):
        with lock:
            return json.dumps(stats).encode()

    def control(self, sock, method, path, query, body):
        """Answers a /_sink/ request."""
        jtype = [("Content-Type", "application/json")]
        if path == "/_sink/stats" and method == "GET":
            send(sock, 200, jtype, self.snapshot())
        elif path == "/_sink/wait" and method == "GET":
            q = dict(p.partition("=")[::2] for p in query.split("&") if p)
            try:
                want = int(q.get("requests", "1"))
                ms = min(int(q.get("timeout_ms", "10000")), 60000)
            except ValueError:
                send(sock, 400, [], b"bad query\n")
                return
            deadline = time.monotonic() + ms / 1000.0
            with lock:
                while stats["requests"] < want:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    changed.wait(left)
            send(sock, 200, jtype, self.snapshot())
        elif path == "/_sink/fault" and method == "GET":
            with lock:
                st = json.dumps(self.faults.state()).encode()
            send(sock, 200, jtype, st)
        elif path == "/_sink/fault" and method in ("POST", "PUT"):
            try:
                with lock:
                    self.faults.set(body.decode("utf-8"))
                    st = json.dumps(self.faults.state()).encode()
                send(sock, 200, jtype, st)
            except (BadScript, UnicodeDecodeError) as e:
                send(sock, 400, [], ("%s\n" % e).encode())
        else:
            send(sock, 404, [], b"no such control endpoint\n")

    def handle(self, sock, conn_id):
        c = Conn(sock)
        nreq = 0
        try:
            while True:
                method, target, version, headers = read_head(c)
                if (field(headers, "expect") or "").lower() == "100-continue":
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                wire, chunked = read_body(c, headers)
                path, _, query = target.partition("?")
                if path.startswith("/_sink/"):
                    self.control(sock, method, path, query, wire)
                else:
                    nreq += 1
                    if not self.exchange(sock, conn_id, nreq, method, target,
                                         path, version, headers, wire, chunked):
                        return
                conn_hdr = (field(headers, "connection") or "").lower()
                if conn_hdr == "close" or (version == "HTTP/1.0" and conn_hdr != "keep-alive"):
                    return
        except BadRequest as e:
            try:
                send(sock, 400, [("Connection", "close")], ("%s\n" % e).encode())
            except OSError:
                pass
        except (EOFError, ConnectionError, OSError):
            pass
        finally:
            with lock:
                stats["open"] -= 1
            try:
                sock.close()
            except OSError:
                pass

    def exchange(self, sock, conn_id, nreq, method, target, path, version,
                 headers, wire, chunked):
        """Stores one request and answers it; returns False to close."""
        ctype = field(headers, "content-type")
        encoding = field(headers, "content-encoding")
        body, err = decode(wire, encoding)
        with lock:
            act = self.faults.next_action()
        kind = act["kind"]
        status = act["status"]
        rheaders = list(act["headers"])
        rbody = b""
        if kind == "ok":
            mtype = (ctype or "").split(";")[0].strip().lower()
            if method != "POST":
                status = 405
            elif err:
                status = 415 if err.startswith("unsupported") else 400
                rbody = ("%s\n" % err).encode()
            elif mtype == "application/json":
                rheaders.append(("Content-Type", "application/json"))
                rbody = b"{}"
            elif mtype == "application/x-protobuf":
                rheaders.append(("Content-Type", "application/x-protobuf"))
        action = kind if kind in ("hang", "close") else str(status)
        meta = {"method": method, "target": target, "path": path, "version": version,
                "headers": [[k, v] for k, v in headers], "content_type": ctype,
                "encoding": encoding, "chunked": chunked, "wire_length": len(wire),
                "body_length": len(body), "decode_error": err, "connection": conn_id,
                "request_on_connection": nreq, "action": action, "time": time.time()}
        self.store(meta, body)
        self.count(action)
        if act["delay"]:
            time.sleep(act["delay"])
        if kind == "hang":
            sock.settimeout(None)
            while sock.recv(65536):
                pass  # whatever else comes is ignored until the peer leaves
            return False
        if kind == "close":
            return False
        send(sock, status, rheaders, rbody)
        return True


def main():
    args = {"--dir": None, "--port": "0", "--fault": "ok", "--control": None,
            "--max-seconds": "900", "--store": "all"}
    argv = sys.argv[1:]
    while argv:
        opt = argv.pop(0)
        if opt not in args or not argv:
            sys.exit("usage: sink.py --dir DIR [--port N] [--fault SCRIPT] "
                     "[--control FILE] [--max-seconds S] [--store all|none]")
        args[opt] = argv.pop(0)
    if not args["--dir"]:
        sys.exit("sink.py: --dir is required")
    os.makedirs(args["--dir"], exist_ok=True)
    try:
        faults = Faults(args["--fault"])
    except BadScript as e:
        sys.exit("sink.py: --fault: %s" % e)
    faults.control = args["--control"]
    if args["--store"] not in ("all", "none"):
        sys.exit("sink.py: --store is all or none")
    srv = Server(args["--dir"], faults, args["--store"] == "all")
    max_s = float(args["--max-seconds"])
    deadline = time.monotonic() + max_s if max_s > 0 else None

    # SIGTERM ends the process with 0; worker threads are daemons.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(args["--port"])))
    ls.listen(128)
    ls.settimeout(0.2)
    print("READY %d" % ls.getsockname()[1], flush=True)
    while deadline is None or time.monotonic() < deadline:
        try:
            sock, _ = ls.accept()
        except socket.timeout:
            continue
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with lock:
            stats["connections"] += 1
            stats["open"] += 1
            conn_id = stats["connections"]
        threading.Thread(target=srv.handle, args=(sock, conn_id), daemon=True).start()
    print("sink: --max-seconds reached, exiting", file=sys.stderr, flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
