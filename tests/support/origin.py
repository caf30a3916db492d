#!/usr/bin/env python3
"""A test origin: a real HTTP/1.1 server on 127.0.0.1 whose behaviour is chosen
by the request path, so one process serves every integration test (and the
quick start's demo). It parses requests with its own code, independent of the
gateway's parser, and prints "READY <port>" once listening.

Paths:
  /status/NNN        that status (no body for 1xx/204/304)
  /bytes/N           N pattern bytes (byte i = (i*31+7) & 0xff), Content-Length
  /chunked/N         the same bytes, chunked in varied sizes
  /close/N           the same bytes, no length: delimited by close
  /sha256            sha256 hex of the request body; X-Body-Bytes: n
  /slow/MS           answers after MS milliseconds
  /ws                101 to an Upgrade: websocket request, then echoes raw bytes
  /drop-idle/MS      200 "idle", then closes the kept-alive connection MS ms later
  /fault/hang        reads the request, never answers
  /fault/close-before-head, /fault/half-head, /fault/garbage,
  /fault/close-mid-body (Content-Length 100000, 50000 sent), /fault/dup-cl,
  /fault/cl-te, /fault/obs-fold, /fault/huge-head (1 MB of fields),
  /fault/bad-chunk, /fault/reset (RST)
  /fault/NAME/MS     the same, then the socket stays open MS ms before the
                     close (or the RST): a fault that lasts
  /_origin/stats     {"connections":N,"requests":M,"open":K}
  anything else      200, body = the exact bytes received for this request;
                     X-Origin-Conn / X-Origin-Req: connection and request serials

Options:
  --port N           listen on N instead of a free port
  --tls CERT KEY     speak TLS (ALPN http/1.1); every response then also says
                     X-Origin-SNI (the name the client sent, "-" for none),
                     X-Origin-Client-Cert (the client certificate's CN, "-"
                     for none) and X-Origin-TLS-Resumed (1 or 0)
  --client-ca CA     with --tls: require a client certificate signed by CA
  --mute             accept connections and never read or write on them
  --backlog-hang     listen with a backlog of 0 and never accept
"""
import hashlib
import json
import socket
import ssl
import struct
import sys
import threading
import time

lock = threading.Lock()
stats = {"connections": 0, "requests": 0, "open": 0}


PATTERN_UNIT = bytes(((i * 31 + 7) & 0xFF) for i in range(256))


def pattern(n):
    """n bytes of (i*31+7) & 0xff: period 256, so built by repetition."""
    return (PATTERN_UNIT * (n // 256 + 1))[:n]


PATTERN_BLOCK = memoryview(PATTERN_UNIT * 4096)  # 1 MiB, whole periods


def send_pattern(sock, head, n):
    """head, then n pattern bytes in 1 MiB pieces: a big body is never built
    whole, which would hold the GIL (and every other connection) for as long
    as copying it takes."""
    first = min(n, len(PATTERN_BLOCK))
    sock.sendall(head + PATTERN_BLOCK[:first])
    n -= first
    while n > 0:
        k = min(n, len(PATTERN_BLOCK))
        sock.sendall(PATTERN_BLOCK[:k])
        n -= k


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, sep):
        while sep not in self.buf:
            self.fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_n(self, n):
        # chunks joined once: appending to one bytes object would be quadratic
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


def read_request(c):
    head = c.read_until(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    method, target, version = lines[0].split(b" ", 2)
    headers = []
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        headers.append((k.strip().lower(), v.strip()))
    hmap = dict(headers)
    raw = head
    body = b""
    if hmap.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size_line = c.read_until(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:
                    t = c.read_until(b"\r\n")
                    raw += t
                    if t == b"\r\n":
                        break
                break
            data = c.read_n(size + 2)
            raw += data
            body += data[:-2]
    elif b"content-length" in hmap:
        body = c.read_n(int(hmap[b"content-length"]))
        raw += body
    return method.decode(), target.decode(), version, hmap, raw, body


def head_bytes(status, headers, reason=None):
    reasons = {200: "OK", 101: "Switching Protocols", 204: "No Content", 304: "Not Modified",
               404: "Not Found", 500: "Internal Server Error"}
    out = "HTTP/1.1 %d %s\r\n" % (status, reason or reasons.get(status, "Status"))
    for k, v in headers:
        out += "%s: %s\r\n" % (k, v)
    return out.encode() + b"\r\n"


def send(sock, status, headers, body=b"", reason=None):
    sock.sendall(head_bytes(status, headers, reason) + body)


tls_seen = threading.local()  # the SNI of the handshake this thread runs


def on_sni(sslsock, name, ctx):
    tls_seen.sni = name


def tls_fields(sock):
    """What the TLS handshake of sock showed, as response fields."""
    cert = sock.getpeercert()
    cn = "-"
    for rdn in (cert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    return [("X-Origin-SNI", getattr(tls_seen, "sni", None) or "-"),
            ("X-Origin-Client-Cert", cn),
            ("X-Origin-TLS-Resumed", 1 if sock.session_reused else 0)]


def handle(sock, conn_id, tls=None):
    extra = []
    if tls:
        tls_seen.sni = None
        sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        try:
            sock.do_handshake()
        except (ssl.SSLError, OSError):
            # the alert is out: read what the client still sends until it
            # closes, so that closing sends no RST that would discard the
            # alert before the client reads it
            raw = socket.socket(fileno=sock.detach())
            try:
                raw.settimeout(5)
                while raw.recv(65536):
                    pass
            except OSError:
                pass
            with lock:
                stats["open"] -= 1
            raw.close()
            return
        extra = tls_fields(sock)
    c = Conn(sock)
    req_no = 0
    try:
        while True:
            method, target, version, h, raw, body = read_request(c)
            req_no += 1
            with lock:
                stats["requests"] += 1
            path = target.split("?")[0]
            ids = [("X-Origin-Conn", conn_id), ("X-Origin-Req", req_no)] + extra
            parts = path.strip("/").split("/")
            head_only = method == "HEAD"

            def reply(status, hdrs, payload=b""):
                send(sock, status, hdrs, b"" if head_only else payload)

            if path == "/_origin/stats":
                with lock:
                    p = json.dumps(stats).encode()
                reply(200, ids + [("Content-Length", len(p))], p)
            elif parts[0] == "status":
                st = int(parts[1])
                hdrs = ids if st in (204, 304) or st < 200 else ids + [("Content-Length", 0)]
                send(sock, st, hdrs)
            elif parts[0] == "bytes":
                n = int(parts[1])
                head = head_bytes(200, ids + [("Content-Length", n)])
                send_pattern(sock, head, 0 if head_only else n)
            elif parts[0] == "chunked":
                p = pattern(int(parts[1]))
                send(sock, 200, ids + [("Transfer-Encoding", "chunked")])
                if not head_only:
                    i, k = 0, 1
                    while i < len(p):
                        n = min(k * 997 % 70000 + 1, len(p) - i)
                        sock.sendall(b"%x\r\n" % n + p[i:i + n] + b"\r\n")
                        i += n
                        k += 1
                    sock.sendall(b"0\r\n\r\n")
            elif parts[0] == "close":
                p = pattern(int(parts[1]))
                send(sock, 200, ids + [("Connection", "close")], p)
                return
            elif parts[0] == "sha256":
                d = hashlib.sha256(body).hexdigest().encode()
                reply(200, ids + [("Content-Length", len(d)), ("X-Body-Bytes", len(body))], d)
            elif parts[0] == "slow":
                time.sleep(int(parts[1]) / 1000.0)
                reply(200, ids + [("Content-Length", 4)], b"slow")
            elif parts[0] == "drop-idle":
                reply(200, ids + [("Content-Length", 4)], b"idle")
                time.sleep(int(parts[1]) / 1000.0)
                return
            elif parts[0] == "ws":
                send(sock, 101, [("Upgrade", "websocket"), ("Connection", "Upgrade")])
                if c.buf:
                    sock.sendall(c.buf)
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    sock.sendall(data)
            elif parts[0] == "fault":
                fault(sock, parts[1])
                if len(parts) > 2:
                    time.sleep(int(parts[2]) / 1000.0)
                return
            else:
                reply(200, ids + [("Content-Length", len(raw))], raw)
            if h.get(b"connection", b"").lower() == b"close":
                return
    except (EOFError, ConnectionError, ValueError, IndexError):
        pass
    finally:
        with lock:
            stats["open"] -= 1
        try:
            sock.close()
        except OSError:
            pass


def fault(sock, name):
    if name == "hang":
        time.sleep(3600)
    elif name == "close-before-head":
        pass
    elif name == "half-head":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
    elif name == "garbage":
        sock.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
    elif name == "close-mid-body":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern(50000))
    elif name == "dup-cl":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
    elif name == "cl-te":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")
    elif name == "obs-fold":
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\nContent-Length: 2\r\n\r\nok")
    elif name == "huge-head":
        sock.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * 1000 + b"\r\n")
        for _ in range(1000):
            sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        sock.sendall(b"Content-Length: 0\r\n\r\n")
    elif name == "bad-chunk":
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
    elif name == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def main():
    port = 0
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    if "--backlog-hang" in sys.argv:
        ls.listen(0)
        print("READY %d" % ls.getsockname()[1], flush=True)
        time.sleep(3600)
        return
    tls = None
    if "--tls" in sys.argv:
        i = sys.argv.index("--tls")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        tls.set_alpn_protocols(["http/1.1"])
        tls.sni_callback = on_sni
        if "--client-ca" in sys.argv:
            tls.verify_mode = ssl.CERT_REQUIRED
            tls.load_verify_locations(sys.argv[sys.argv.index("--client-ca") + 1])
    ls.listen(1024)
    print("READY %d" % ls.getsockname()[1], flush=True)
    held = []
    while True:
        sock, _ = ls.accept()
        if "--mute" in sys.argv:
            held.append(sock)  # open, silent, until the process ends
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with lock:
            stats["connections"] += 1
            stats["open"] += 1
            conn_id = stats["connections"]
        threading.Thread(target=handle, args=(sock, conn_id, tls), daemon=True).start()


if __name__ == "__main__":
    main()
