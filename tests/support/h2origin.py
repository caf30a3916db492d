#!/usr/bin/python3
"""A test origin speaking HTTP/2 (Debian's python3-h2), for upstreams with
protocol = h2c or h2. Prints "READY <port>" once listening on 127.0.0.1.

  h2origin.py [--tls CERT KEY [--alpn PROTO]] [--answer STATUS [name=value ...]]

--tls: HTTP/2 over TLS, ALPN offering h2 (or PROTO instead, to test a server
that does not choose h2); without it, cleartext with prior knowledge.

By default every request gets 200 with the body "METHOD PATH SCHEME
BODY-SHA256" and the fields x-origin-conn (connection serial), x-origin-sni
(the name the client sent, "-" for none) and x-origin-alpn (what ALPN chose).
--answer: every request gets instead, once its END_STREAM arrived, a head of
STATUS and the given fields that ends the stream (a trailers-only response,
which a real gRPC server never sends for an HTTP error but a proxy in front of
one may).
"""
import hashlib
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions

lock = threading.Lock()
serial = [0]
seen = threading.local()


def on_sni(sslsock, name, ctx):
    seen.sni = name


def echo(conn, sid, head, body, conn_id, alpn):
    out = b"%s %s %s %s" % (head[b":method"], head[b":path"], head.get(b":scheme", b"-"),
                            hashlib.sha256(body).hexdigest().encode())
    conn.send_headers(sid, [
        (":status", "200"), ("content-length", str(len(out))),
        ("x-origin-conn", str(conn_id)),
        ("x-origin-sni", getattr(seen, "sni", None) or "-"),
        ("x-origin-alpn", alpn)])
    conn.send_data(sid, out, end_stream=True)


def serve(sock, conn_id, tls, answer):
    seen.sni = None
    alpn = "-"
    if tls:
        try:
            sock = tls.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            sock.close()
            return
        alpn = sock.selected_alpn_protocol() or "-"
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(60)
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
                    if answer:
                        conn.send_headers(ev.stream_id, answer, end_stream=True)
                    else:
                        echo(conn, ev.stream_id, head, body, conn_id, alpn)
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def main():
    args = sys.argv[1:]
    tls = None
    answer = None
    if "--answer" in args:
        i = args.index("--answer")
        answer = [(":status", args[i + 1])] + [tuple(a.split("=", 1)) for a in args[i + 2:]]
        del args[i:]
    if "--tls" in args:
        i = args.index("--tls")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args[i + 1], args[i + 2])
        alpn = args[args.index("--alpn") + 1] if "--alpn" in args else "h2"
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
        threading.Thread(target=serve, args=(sock, conn_id, tls, answer), daemon=True).start()


if __name__ == "__main__":
    main()
