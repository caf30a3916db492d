#!/usr/bin/python3
"""grpc_origin.py: a real gRPC server (python3-grpcio) for tests/integ/test_grpc.c.

No generated code: generic handlers over raw bytes. Listens insecure on
127.0.0.1 (port 0 unless --port N) and prints "READY <port>" once it serves.

Service tg.test.Echo:
  Unary         echoes the request bytes; initial metadata echo-traceparent
                echo-tracestate and echo-x-client carry what arrived, echo-deadline-ms the
                time left before the call's deadline (-1 without one);
                trailing metadata x-trailer: unary-done, x-len: <request
                length> and x-blob-bin: bytes 0..255 (binary metadata)
  ServerStream  request "N[:SIZE]": N messages, message i is SIZE bytes of
                chr(ord('a') + i % 26) (SIZE 8 by default); --die-after-first
                makes the process exit abruptly after the first message
  ClientStream  concatenates every request message; trailing x-count: <n>
  BidiStream    replies to each message with its bytes reversed, as it arrives
  Fail          aborts with the status the request starts with ("CODE" or
                "CODE:TEXT"; 5 by default) and the details "no such thing:
                <request>" (grpc-message, percent-encoded), with trailing
                metadata x-fail: yes
  StreamFail    request "N:CODE": N messages "m<i>", then the status CODE
                with the details "failed after N" (grpc-status in trailers)
  Slow          waits for the request's first message, replies with one and
                then holds the stream open (up to 30 s) until the client
                cancels it; then prints "CANCELLED <first message>"
Other methods get UNIMPLEMENTED from grpcio itself.
"""
import os
import sys
import threading
import time
from concurrent import futures

import grpc


def ident(b):
    return b


def md_get(ctx, key):
    for k, v in ctx.invocation_metadata():
        if k == key:
            return v
    return ""


def unary(req, ctx):
    left = ctx.time_remaining()
    ctx.send_initial_metadata((
        ("echo-traceparent", md_get(ctx, "traceparent")),
        ("echo-tracestate", md_get(ctx, "tracestate")),
        ("echo-x-client", md_get(ctx, "x-client")),
        ("echo-deadline-ms", str(int(left * 1000)) if left is not None else "-1"),
    ))
    ctx.set_trailing_metadata((("x-trailer", "unary-done"), ("x-len", str(len(req))),
                               ("x-blob-bin", bytes(range(256)))))
    return req


DIE_AFTER_FIRST = "--die-after-first" in sys.argv


def server_stream(req, ctx):
    text = req.decode()
    n, _, size = text.partition(":")
    size = int(size) if size else 8
    for i in range(int(n)):
        yield bytes([ord("a") + i % 26]) * size
        if DIE_AFTER_FIRST:
            # what a crash looks like to the gateway: the connection just
            # goes away in the middle of a stream
            time.sleep(0.2)
            os._exit(3)


def client_stream(it, ctx):
    parts = [m for m in it]
    ctx.set_trailing_metadata((("x-count", str(len(parts))),))
    return b"".join(parts)


def bidi(it, ctx):
    for m in it:
        yield m[::-1]


def status_of(code):
    return next(s for s in grpc.StatusCode if s.value[0] == code)


def fail(req, ctx):
    ctx.set_trailing_metadata((("x-fail", "yes"),))
    text = req.decode()
    ctx.abort(status_of(int(text.partition(":")[0] or "5")), "no such thing: " + text)


def stream_fail(req, ctx):
    n, _, code = req.decode().partition(":")
    for i in range(int(n)):
        yield b"m%d" % i
    ctx.abort(status_of(int(code)), "failed after " + n)


def slow(it, ctx):
    first = next(it, b"")
    done = threading.Event()
    ended = []

    def on_end():
        # the RPC ended before the handler did: the client went away
        if not ended:
            print("CANCELLED " + first.decode(), flush=True)
        done.set()

    # registered before the reply goes out: once the client cancels, grpcio
    # no longer resumes this generator, so nothing after the yield would run
    ctx.add_callback(on_end)
    yield first
    done.wait(30)
    ended.append(True)


def main():
    port = 0
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, ident, ident),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, ident, ident),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, ident, ident),
        "BidiStream": grpc.stream_stream_rpc_method_handler(bidi, ident, ident),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, ident, ident),
        "StreamFail": grpc.unary_stream_rpc_method_handler(stream_fail, ident, ident),
        "Slow": grpc.stream_stream_rpc_method_handler(slow, ident, ident),
    }
    big = 8 * 1024 * 1024
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[("grpc.max_receive_message_length", big),
                 ("grpc.max_send_message_length", big)])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("tg.test.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("READY %d" % port, flush=True)
    # bounded, like the other test processes: the harness kills it sooner
    server.wait_for_termination(timeout=600)


if __name__ == "__main__":
    main()
