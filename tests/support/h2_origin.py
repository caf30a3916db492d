#!/usr/bin/python3
"""h2_origin.py: a bare HTTP/2 cleartext server (python3-h2, prior knowledge)
for responses a real gRPC server never sends, e.g. what a proxy in front of
one answers when it is overloaded.

  h2_origin.py [--port N] STATUS [name=value ...]

Answers every request, once its END_STREAM arrived, with a head of STATUS
and the given fields that ends the stream (a trailers-only response). Listens
on 127.0.0.1 (port 0 unless --port) and prints "READY <port>".
"""
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def serve(sock, head):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(60)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    conn.send_headers(ev.stream_id, head, end_stream=True)
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def main():
    args = sys.argv[1:]
    port = 0
    if "--port" in args:
        i = args.index("--port")
        port = int(args[i + 1])
        del args[i:i + 2]
    head = [(":status", args[0])] + [tuple(a.split("=", 1)) for a in args[1:]]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    print("READY %d" % ls.getsockname()[1], flush=True)
    while True:
        sock, _ = ls.accept()
        threading.Thread(target=serve, args=(sock, head), daemon=True).start()


if __name__ == "__main__":
    main()
