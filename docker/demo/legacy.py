#!/usr/bin/env python3
"""The compose demo's legacy service: plain Python, no tracing at all. The
gateway in front of it still records a SERVER and a CLIENT span for each of
its requests, and forwards a traceparent it simply ignores (it echoes it).

  GET /legacy/...               200, JSON: path, the traceparent received
      ?delay_ms=N               answers N ms later (0..10000): a slow trace
      ?status=NNN               answers with that status (200..599)

Environment: PORT (8000). Listens on all interfaces; prints "READY <port>".
"""
import json
import os
import signal
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "legacy/1.0"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        try:
            delay = min(max(int(q.get("delay_ms", ["0"])[0]), 0), 10000)
            status = int(q.get("status", ["200"])[0])
        except ValueError:
            delay, status = 0, 400
        if not 200 <= status <= 599:
            status = 400
        if delay:
            time.sleep(delay / 1000)
        body = json.dumps({
            "service": "legacy",
            "path": url.path,
            "sku": q.get("sku", [None])[0],
            "in_stock": 7,
            "traceparent": self.headers.get("traceparent"),
        }).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("legacy: %s %s\n" % (self.address_string(), fmt % args))


def main():
    port = int(os.environ.get("PORT", "8000"))
    srv = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    srv.daemon_threads = True
    # a container's SIGTERM: exit at once, nothing to flush
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
