#!/usr/bin/env python3
"""The compose demo's client: a few requests through the gateway every
INTERVAL_S seconds, so Jaeger has traces as soon as the stack is up. Each
round: a checkout, a legacy request; every 4th round a slow checkout (kept by
the collector's latency policy), every 5th a failing one (kept by its error
policy). Prints one line per request with the X-Trace-Id the gateway
returned. Environment: GATEWAY_URL (http://tracegate:8080), INTERVAL_S (2),
ROUNDS (0 = until stopped).
"""
import os
import signal
import sys
import time
import urllib.error
import urllib.request

base = os.environ.get("GATEWAY_URL", "http://tracegate:8080").rstrip("/")
interval = float(os.environ.get("INTERVAL_S", "2"))
rounds = int(os.environ.get("ROUNDS", "0"))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=15) as r:
            status, tid = r.status, r.headers.get("X-Trace-Id")
            r.read()
    except urllib.error.HTTPError as e:
        status, tid = e.code, e.headers.get("X-Trace-Id")
    except OSError as e:
        status, tid = "-", str(e)
    print("traffic: GET %s -> %s trace_id=%s" % (path, status, tid), flush=True)


n = 0
while rounds == 0 or n < rounds:
    n += 1
    get("/shop/checkout")
    get("/legacy/inventory?sku=7")
    if n % 4 == 0:
        get("/shop/checkout?delay_ms=800")
    if n % 5 == 0:
        get("/shop/checkout?fail=1")
    if rounds == 0 or n < rounds:
        time.sleep(interval)
