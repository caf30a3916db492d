#!/usr/bin/env python3
"""A stand-in for tracegate's admin listener, to develop and check the trace viewer.

Serves filters/trace/ui/index.html at "/" (read on every request, so an edit
shows on reload) and canned answers for GET /api/traces and
GET /api/traces/<id>, in the same JSON shapes as the gateway: three traces
built relative to the start time (an ok one through a Node.js service, one
that failed after a retry, and one with no gateway span whose root's parent
is missing). Binds 127.0.0.1 on port 0 unless told otherwise and prints
"READY <port>" when it accepts connections.

  mock_api.py [--port N] [--max-seconds S] [--html PATH]
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_HTML = os.path.join(HERE, "..", "..", "..", "filters", "trace", "ui", "index.html")

# The ids the check uses; fixed so a run is easy to repeat by hand.
TRACE_OK = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_ERR = "0af7651916cd43dd8448eb211c80319c"
TRACE_ORPHAN = "5b8aa5a2d2c872e8321cf37308d69df2"

MS = 1_000_000


def span(t0, sid, parent, name, kind, service, start_ms, end_ms, status="UNSET", attrs=None, events=()):
    s = {
        "spanId": sid,
        "name": name,
        "kind": kind,
        "service": service,
        "startTimeUnixNano": str(t0 + int(start_ms * MS)),
        "endTimeUnixNano": str(t0 + int(end_ms * MS)),
        "status": status,
        "attributes": attrs or {},
        "events": [{"name": n, "timeUnixNano": str(t0 + int(ms * MS))} for n, ms in events],
    }
    if parent:
        s["parentSpanId"] = parent
    return s


def gateway_server(t0, sid, method, path, route, status, end_ms, error=False):
    return span(t0, sid, None, f"{method} /{route}", "SERVER", "tracegate", 0, end_ms,
                "ERROR" if error else "UNSET", {
                    "http.request.method": method, "url.path": path, "url.scheme": "http",
                    "http.route": f"/{route}", "tracegate.route": route, "tracegate.upstream": "node",
                    "server.address": "shop.example.com", "server.port": 8080,
                    "client.address": "127.0.0.1", "client.port": 53118,
                    "network.peer.address": "127.0.0.1", "network.peer.port": 53118,
                    "network.protocol.version": "1.1",
                    # untrusted bytes: the page must show them as text, never run them
                    "user_agent.original": "curl/7.88.1 <img src=x onerror=alert(1)>",
                    "http.response.status_code": status,
                })


def build_traces(now_ns):
    """Returns {trace_id: [spans]}, spans in no particular order (as the store may answer)."""
    t1 = now_ns - 2_000 * MS
    ok = [
        span(t1, "a1b2c3d4e5f60718", "00f067aa0ba902b7", "SELECT orders", "CLIENT", "node-app", 4.1, 8.7,
             attrs={"db.system": "postgresql", "db.operation.name": "SELECT", "server.address": "db.internal"}),
        gateway_server(t1, "53995c3f42cd8ad8", "GET", "/api/orders/42", "api", 200, 11.036),
        span(t1, "00f067aa0ba902b7", "b7ad6b7169203331", "GET /api/orders/:id", "SERVER", "node-app", 1.9, 10.1,
             attrs={"http.request.method": "GET", "url.path": "/api/orders/42", "http.route": "/api/orders/:id",
                    "http.response.status_code": 200, "service.version": "1.4.2"}),
        span(t1, "b7ad6b7169203331", "53995c3f42cd8ad8", "GET", "CLIENT", "tracegate", 0.21, 10.8,
             attrs={"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": 9001,
                    "url.full": "http://127.0.0.1:9001/api/orders/42", "network.peer.address": "127.0.0.1",
                    "network.peer.port": 9001, "peer.service": "node", "http.response.status_code": 200},
             events=[("connect_start", 0.25), ("connect_end", 0.61), ("request_sent", 0.74),
                     ("first_byte", 10.2), ("last_byte", 10.7)]),
    ]
    t2 = now_ns - 9_000 * MS
    err = [
        gateway_server(t2, "e457b5a2e4d86bd1", "POST", "/checkout/cart", "checkout", 500, 48.3, error=True),
        span(t2, "9d1c0e2f3a4b5c6d", "e457b5a2e4d86bd1", "POST", "CLIENT", "tracegate", 0.3, 1.4, "ERROR",
             {"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": 9002,
              "error.type": "connection_refused", "peer.service": "node"},
             events=[("connect_start", 0.35)]),
        span(t2, "1a2b3c4d5e6f7a8b", "e457b5a2e4d86bd1", "POST", "CLIENT", "tracegate", 1.6, 47.9, "ERROR",
             {"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": 9001,
              "http.request.resend_count": 1, "http.response.status_code": 500, "peer.service": "node"},
             events=[("connect_start", 1.65), ("connect_end", 1.9), ("request_sent", 2.3),
                     ("first_byte", 47.1), ("last_byte", 47.8)]),
        span(t2, "c0ffee00c0ffee00", "1a2b3c4d5e6f7a8b", "POST /checkout/:cart", "SERVER", "node-app", 3.0, 46.5,
             "ERROR", {"http.request.method": "POST", "http.route": "/checkout/:cart",
                       "http.response.status_code": 500, "error.type": "500",
                       "exception.message": "payment service timed out"}),
    ]
    t3 = now_ns - 30_000 * MS
    orphan = [
        span(t3, "77e1f0a0b0c0d0e0", "1111111111111111", "GET /healthz", "SERVER", "node-app", 0, 0.9,
             attrs={"http.request.method": "GET", "url.path": "/healthz", "http.response.status_code": 200}),
        span(t3, "88e1f0a0b0c0d0e0", "77e1f0a0b0c0d0e0", "check redis", "INTERNAL", "node-app", 0.2, 0.6),
    ]
    return {TRACE_OK: ok, TRACE_ERR: err, TRACE_ORPHAN: orphan}


def summary(tid, spans):
    ids = {s["spanId"] for s in spans}
    gw = next((s for s in spans if s["service"] == "tracegate" and s["kind"] == "SERVER"), None)
    roots = [s for s in spans if s.get("parentSpanId") not in ids]
    root = gw or min(roots or spans, key=lambda s: int(s["startTimeUnixNano"]))
    start = min(int(s["startTimeUnixNano"]) for s in spans)
    end = max(int(s["endTimeUnixNano"]) for s in spans)
    services = []
    for s in sorted(spans, key=lambda s: int(s["startTimeUnixNano"])):
        if s["service"] not in services:
            services.append(s["service"])
    return {
        "traceId": tid, "rootName": root["name"], "rootService": root["service"],
        "route": gw["attributes"].get("tracegate.route") if gw else None,
        "startTimeUnixNano": str(start), "durationNs": str(end - start), "spanCount": len(spans),
        "services": services, "error": any(s["status"] == "ERROR" for s in spans),
        "statusCode": gw["attributes"].get("http.response.status_code") if gw else None,
    }


class Handler(BaseHTTPRequestHandler):
    traces = {}
    html_path = DEFAULT_HTML

    def log_message(self, fmt, *args):  # quiet: the check's output is what matters
        pass

    def send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/":
            with open(self.html_path, "rb") as f:
                return self.send(200, f.read(), "text/html; charset=utf-8")
        if u.path == "/api/traces":
            return self.send(200, self.list(parse_qs(u.query)))
        if u.path.startswith("/api/traces/"):
            tid = unquote(u.path[len("/api/traces/"):])
            if tid in self.traces:
                return self.send(200, {"traceId": tid, "spans": self.traces[tid]})
            return self.send(404, {"error": "no such trace: " + tid})
        return self.send(404, {"error": "not found"})

    def list(self, q):
        arg = lambda k: q.get(k, [""])[0]
        rows = sorted((summary(t, s) for t, s in self.traces.items()),
                      key=lambda r: -int(r["startTimeUnixNano"]))
        if arg("route"):
            rows = [r for r in rows if r["route"] == arg("route")]
        if arg("service"):
            rows = [r for r in rows if arg("service") in r["services"]]
        if arg("min_duration_ms"):
            rows = [r for r in rows if int(r["durationNs"]) >= float(arg("min_duration_ms")) * MS]
        if arg("errors") == "1":
            rows = [r for r in rows if r["error"]]
        limit = int(arg("limit") or 50)
        return {"traces": rows[:limit], "total": len(rows)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=300, help="exit after this long (default 300)")
    ap.add_argument("--html", default=DEFAULT_HTML, help="the page to serve at /")
    a = ap.parse_args()
    Handler.traces = build_traces(time.time_ns())
    Handler.html_path = os.path.abspath(a.html)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    timer = threading.Timer(a.max_seconds, srv.shutdown)
    timer.daemon = True
    timer.start()
    print("READY", srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
