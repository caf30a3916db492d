#!/usr/bin/env python3
"""A test origin speaking HTTP/2 over TLS (python3-h2), for upstreams with
protocol = h2. Prints "READY <port>" once listening on 127.0.0.1.

  h2origin.py CERT KEY [--alpn PROTO]
  h2origin.py --check      exit 0 when python3-h2 can be imported, else 77

ALPN offers h2 (or PROTO instead, to test a server that does not choose h2).
Every request gets 200 with the body "METHOD PATH SCHEME BODY-SHA256" and
the fields x-origin-conn (connection serial), x-origin-sni (the name the
client sent, "-" for none) and x-origin-alpn (what ALPN chose).
"""
import hashlib
import socket
import ssl
import sys
import threading

try:
    import h2.config
except ImportError:
    # a python3 other than Debian's (pyenv, venv) may not see python3-h2
    sys.path.append("/usr/lib/python3/dist-packages")
try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
except ImportError:
    if "--check" in sys.argv:
        sys.exit(77)
    raise

lock = threading.Lock()
serial = [0]
seen = threading.local()


def on_sni(sslsock, name, ctx):
    seen.sni = name


def serve(sock, conn_id, tls):
    seen.sni = None
    try:
        sock = tls.wrap_socket(sock, server_side=True)
    except (ssl.SSLError, OSError):
        sock.close()
        return
    alpn = sock.selected_alpn_protocol() or "-"
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = [dict(ev.headers), b""]
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id][1] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    head, body = streams.pop(ev.stream_id)
                    out = b"%s %s %s %s" % (head[b":method"], head[b":path"],
                                            head.get(b":scheme", b"-"),
                                            hashlib.sha256(body).hexdigest().encode())
                    conn.send_headers(ev.stream_id, [
                        (":status", "200"), ("content-length", str(len(out))),
                        ("x-origin-conn", str(conn_id)),
                        ("x-origin-sni", getattr(seen, "sni", None) or "-"),
                        ("x-origin-alpn", alpn)])
                    conn.send_data(ev.stream_id, out, end_stream=True)
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def main():
    if "--check" in sys.argv:
        return
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[1], sys.argv[2])
    alpn = sys.argv[sys.argv.index("--alpn") + 1] if "--alpn" in sys.argv else "h2"
    tls.set_alpn_protocols([alpn])
    tls.sni_callback = on_sni
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    print("READY %d" % ls.getsockname()[1], flush=True)
    while True:
        sock, _ = ls.accept()
        with lock:
            serial[0] += 1
            conn_id = serial[0]
        threading.Thread(target=serve, args=(sock, conn_id, tls), daemon=True).start()


if __name__ == "__main__":
    main()
