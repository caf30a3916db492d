#!/usr/bin/python3
"""grpc_client.py: a real gRPC client (python3-grpcio) for tests/integ/test_grpc.c.

  grpc_client.py --target 127.0.0.1:PORT [--ca CA.pem --name localhost]
                 [--authority HOST] [--md key=value ...] CASE [ARG]

Calls one method of tg.test.Echo (tests/support/grpc_origin.py) and prints
one JSON line: the status code (a number), the details, the initial and
trailing metadata, and what came back (the messages' count, total length and
the SHA-256 of their concatenation; "text" too when that is short), and
how long the call took ("elapsed_ms", the channel's connect included). Every
call has a deadline (--deadline seconds, 5 by default), so nothing hangs.
Plain targets use h2c with prior knowledge; --ca makes it TLS with ALPN h2.
--quiet: no BDP pings and a 16 MiB window, so the client sends nothing while
a large response streams in.

Cases:
  unary TEXT            Unary with TEXT as the message
  unary-big N           Unary with N pattern bytes (byte i = (i*31+7) & 0xff)
  server-stream SPEC    ServerStream with "N[:SIZE]"
  client-stream A,B,C   ClientStream with one message per comma-separated part
  client-stream @N:SIZE ClientStream with N messages of SIZE pattern bytes
  bidi A,B,C            BidiStream: sends a part, waits for its reply, sends the next
  fail CODE             Fail: the server aborts with status CODE
  stream-fail N:CODE    StreamFail: N messages, then status CODE in trailers
  unimplemented TEXT    a method the server does not have
  cancel-one TEXT       two Slow calls (TEXT-a, TEXT-b) on one connection:
                        cancels the first, and 0.5 s later says whether the
                        second still runs ("b_alive"), then cancels it
  parallel N            N Unary calls at once on one channel, payload "p<i>"
                        repeated i+1 times; "ok" counts the right echoes
"""
import hashlib
import json
import sys
import time

import grpc

SVC = "/tg.test.Echo/"


def ident(b):
    return b


PERIOD = bytes((i * 31 + 7) & 0xFF for i in range(256))


def pattern(n):
    # (i*31+7) & 0xff repeats every 256 bytes
    return (PERIOD * (n // 256 + 1))[:n]


def md_dict(md):
    out = {}
    for k, v in md or ():
        out[k] = v if isinstance(v, str) else v.hex()
    return out


def summary(msgs):
    blob = b"".join(msgs)
    r = {"count": len(msgs), "len": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    if len(blob) <= 256:
        r["text"] = blob.decode("latin-1")
    return r


def arg(name, default=None):
    if name in sys.argv:
        i = sys.argv.index(name)
        v = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        return v
    return default


def main():
    target = arg("--target")
    ca = arg("--ca")
    name = arg("--name", "localhost")
    authority = arg("--authority")
    quiet = "--quiet" in sys.argv
    if quiet:
        sys.argv.remove("--quiet")
    deadline = float(arg("--deadline", "5"))
    md = []
    while "--md" in sys.argv:
        k, _, v = arg("--md").partition("=")
        md.append((k, v))
    case, param = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    big = 8 * 1024 * 1024
    opts = [("grpc.max_receive_message_length", big),
            ("grpc.max_send_message_length", big),
            ("grpc.enable_http_proxy", 0), ("grpc.enable_retries", 0)]
    if authority:
        opts.append(("grpc.default_authority", authority))
    if quiet:
        # no BDP pings, and a window that takes a whole large message: the
        # client sends nothing while a response streams in, so nothing but
        # the gateway's own write readiness moves it
        opts += [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16 << 20)]
    if ca:
        with open(ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        opts.append(("grpc.ssl_target_name_override", name))
        ch = grpc.secure_channel(target, creds, options=opts)
    else:
        ch = grpc.insecure_channel(target, options=opts)

    res = {"case": case}
    t0 = time.monotonic()
    msgs = []
    call = None
    try:
        if case in ("unary", "unary-big", "fail"):
            method = {"unary": "Unary", "unary-big": "Unary", "fail": "Fail"}[case]
            req = pattern(int(param)) if case == "unary-big" else param.encode()
            res["sent"] = summary([req])
            f = ch.unary_unary(SVC + method, request_serializer=ident,
                               response_deserializer=ident)
            reply, call = f.with_call(req, timeout=deadline, metadata=md)
            msgs.append(reply)
        elif case == "unimplemented":
            f = ch.unary_unary(SVC + "Nope", request_serializer=ident,
                               response_deserializer=ident)
            reply, call = f.with_call(param.encode(), timeout=deadline, metadata=md)
            msgs.append(reply)
        elif case in ("server-stream", "stream-fail"):
            method = "ServerStream" if case == "server-stream" else "StreamFail"
            f = ch.unary_stream(SVC + method, request_serializer=ident,
                                response_deserializer=ident)
            call = f(param.encode(), timeout=deadline, metadata=md)
            for m in call:
                msgs.append(m)
        elif case == "client-stream":
            if param.startswith("@"):
                n, _, size = param[1:].partition(":")
                parts = [pattern(int(size))] * int(n)
            else:
                parts = [p.encode() for p in param.split(",")]
            res["sent"] = summary(parts)
            f = ch.stream_unary(SVC + "ClientStream", request_serializer=ident,
                                response_deserializer=ident)
            reply, call = f.with_call(iter(parts), timeout=deadline, metadata=md)
            msgs.append(reply)
        elif case == "bidi":
            parts = [p.encode() for p in param.split(",")]
            res["sent"] = summary(parts)
            f = ch.stream_stream(SVC + "BidiStream", request_serializer=ident,
                                 response_deserializer=ident)
            # one message in flight at a time: each reply must come back
            # before the next message goes, so the gateway relays as it goes
            # rather than at the end of the stream
            import queue
            q = queue.Queue()

            def gen():
                for p in parts:
                    yield p
                    if q.get(timeout=deadline) is None:
                        return

            call = f(gen(), timeout=deadline, metadata=md)
            for m in call:
                msgs.append(m)
                q.put(m)
            q.put(None)
        elif case == "cancel-one":
            # two calls held open on one connection; cancelling the first
            # must leave the second running (its stream, not the connection)
            import queue
            qs = [queue.Queue(), queue.Queue()]

            def gen(text, q):
                yield text.encode()
                q.get(timeout=deadline)

            f = ch.stream_stream(SVC + "Slow", request_serializer=ident,
                                 response_deserializer=ident)
            a = f(gen(param + "-a", qs[0]), timeout=deadline, metadata=md)
            b = f(gen(param + "-b", qs[1]), timeout=deadline, metadata=md)
            msgs.append(next(a))
            msgs.append(next(b))
            a.cancel()
            qs[0].put(None)
            time.sleep(0.5)
            res["b_alive"] = not b.done()
            b.cancel()
            qs[1].put(None)
            call = a
        elif case == "parallel":
            f = ch.unary_unary(SVC + "Unary", request_serializer=ident,
                               response_deserializer=ident)
            want = [(b"p%d" % i) * (i + 1) for i in range(int(param))]
            futs = [f.future(w, timeout=deadline, metadata=md) for w in want]
            ok = 0
            codes = {}
            for w, fu in zip(want, futs):
                c = fu.code().value[0]
                codes[str(c)] = codes.get(str(c), 0) + 1
                if c == 0 and fu.result() == w:
                    ok += 1
            res["ok"] = ok
            res["codes"] = codes
            call = futs[0]
        else:
            print("unknown case " + case, file=sys.stderr)
            return 2
        res["code"] = call.code().value[0]
        res["details"] = call.details() or ""
    except grpc.RpcError as e:
        call = e
        res["code"] = e.code().value[0]
        res["details"] = e.details() or ""
    res["elapsed_ms"] = int((time.monotonic() - t0) * 1000)
    res["initial"] = md_dict(call.initial_metadata() if call is not None else None)
    res["trailing"] = md_dict(call.trailing_metadata() if call is not None else None)
    res["reply"] = summary(msgs)
    print(json.dumps(res, sort_keys=True, separators=(",", ":"), ensure_ascii=False), flush=True)
    ch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
