#!/usr/bin/python3
"""The image and the compose demo, run without a container engine, inside a
network and mount namespace of their own (check.sh starts this under
`unshare --net --mount`): the fixed ports of the demo (8080, 9901, 3000, 8000,
4318) collide with nothing, and a private /etc/hosts maps every compose
service name to 127.0.0.1, so the configuration files run unchanged.

  1. `tracegate -t` accepts the image's configuration and the Kubernetes
     ConfigMap's, as the image's user (USER of the Dockerfile)
  2. the HEALTHCHECK command fails while nothing listens, then passes once
     the image's binary runs with the image's argv, as the image's user
  3. the compose services run from their compose definitions (command,
     environment, mounted files): legacy, the instrumented shop, and
     tests/support/sink.py standing in for the collector; the traffic client
     sends one round through the gateway
  4. one checkout is one trace: the shop's call to legacy (through the
     gateway) carries its trace-id, the gateway recorded both requests in it,
     and the collector stand-in received that trace from the gateway and from
     the shop's OpenTelemetry SDK
  5. SIGTERM drains: the HEALTHCHECK fails with the 503 of /readyz while a slow
     request still finishes with 200, and the gateway exits 0

Usage (as root, in a fresh namespace): demo.py TOP WORK K8S_INI
  TOP the source tree, WORK holds image.json (emulate.py) and demo.json
  (manifests.py)
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

procs = {}
passed = 0


def fail(msg):
    print("demo: FAIL: %s" % msg, flush=True)
    for name, (p, out) in procs.items():
        for f in (out, out.replace(".out", ".err")):
            if os.path.exists(f) and os.path.getsize(f):
                print("---- %s ----" % os.path.basename(f))
                print(open(f, errors="replace").read()[-4000:])
    stop_all()
    sys.exit(1)


def ok(cond, what):
    global passed
    if not cond:
        fail(what)
    passed += 1
    print("demo: ok %s" % what, flush=True)


def stop_all():
    for name, (p, _) in list(procs.items()):
        if p.poll() is None:
            p.kill()
            p.wait()
        del procs[name]


def start(name, argv, work, env=None, cwd=None):
    out = os.path.join(work, name + ".out")
    p = subprocess.Popen(argv, stdout=open(out, "w"), stderr=open(out[:-4] + ".err", "w"),
                         env=env, cwd=cwd)
    procs[name] = (p, out)
    return p


def wait_ready(name, seconds=15):
    p, out = procs[name]
    deadline = time.time() + seconds
    while time.time() < deadline:
        if open(out).read().startswith("READY"):
            return
        if p.poll() is not None:
            fail("%s exited %d before READY" % (name, p.returncode))
        time.sleep(0.05)
    fail("%s not READY within %d s" % (name, seconds))


def stop(name, seconds=15):
    p, _ = procs[name]
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(seconds)
    except subprocess.TimeoutExpired:
        fail("%s did not exit within %d s of SIGTERM" % (name, seconds))
    del procs[name]
    return rc


def get(url, timeout=10):
    """(status, headers, body) of GET <url>; status 0 on a connection error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except OSError as e:
        return 0, {}, str(e).encode()


def as_user(image, argv):
    return ["setpriv", "--reuid=%d" % image["uid"], "--regid=%d" % image["gid"],
            "--clear-groups", "--"] + argv


def mapped_command(svc):
    """A compose service's command with its bind-mounted files mapped back
    to the source tree."""
    m = {}
    for v in svc.get("volumes", []):
        src, dst = v.split(":")[:2]
        m[dst] = src
    return [m.get(a, a) for a in svc["command"]]


def service_env(svc, **extra):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in svc.get("environment", {}).items()})
    env.update(extra)
    return env


def main():
    top, work, k8s_ini = sys.argv[1:4]
    image = json.load(open(os.path.join(work, "image.json")))
    services = json.load(open(os.path.join(work, "demo.json")))

    hosts = os.path.join(work, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s\n" % " ".join(sorted(services)))
    os.chmod(hosts, 0o644)
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    print("demo: private /etc/hosts: %s -> 127.0.0.1" % " ".join(sorted(services)))

    # 1. the configuration files
    argv = image["argv"]
    n_entry = len(image["entrypoint"])
    for name, cmd in (("the image's configuration", argv[:n_entry] + ["-t"] + argv[n_entry:]),
                      ("the ConfigMap's tracegate.ini", [argv[0], "-t", "-c", k8s_ini])):
        r = subprocess.run(as_user(image, cmd), capture_output=True, text=True)
        ok(r.returncode == 0 and r.stdout.strip().endswith(": OK"),
           "tracegate -t accepts %s as uid %d: %s" % (name, image["uid"],
                                                   (r.stdout + r.stderr).strip()))

    # 2. the healthcheck, before and after the gateway starts
    hc = image["healthcheck"]["argv"]
    r = subprocess.run(hc, capture_output=True)
    ok(r.returncode != 0, "HEALTHCHECK fails while nothing listens (exit %d)" % r.returncode)

    sink = os.path.join(work, "sink")
    start("sink", [sys.executable, os.path.join(top, "tests/support/sink.py"), "--dir", sink,
                   "--port", "4318", "--max-seconds", "120"], work)
    legacy = services["legacy"]
    start("legacy", mapped_command(legacy), work, env=service_env(legacy))
    shop = services["shop"]
    modules = os.path.join(top, "tests/e2e/otel-node/node_modules")
    if not os.path.isdir(modules):
        fail("%s is missing: tests/e2e/otel-node/setup.sh installs it" % modules)
    start("shop", ["node", os.path.join(top, "docker/demo/shop.js")], work,
          env=service_env(shop, NODE_PATH=modules))
    for name in ("sink", "legacy", "shop"):
        wait_ready(name)

    gw = start("tracegate", as_user(image, argv), work)
    t0 = time.time()
    while True:
        r = subprocess.run(hc, capture_output=True)
        if r.returncode == 0:
            break
        if gw.poll() is not None:
            fail("the gateway exited %d" % gw.returncode)
        if time.time() - t0 > 10:
            fail("HEALTHCHECK still fails 10 s after the start")
        time.sleep(0.1)
    ok(True, "HEALTHCHECK passes %.1f s after the image's command started" % (time.time() - t0))

    # 3. one round of the traffic client
    traffic = services["traffic"]
    r = subprocess.run(mapped_command(traffic), capture_output=True, text=True, timeout=60,
                       env=service_env(traffic, ROUNDS="1", INTERVAL_S="0"))
    lines = r.stdout.splitlines()
    print("\n".join("demo: | " + l for l in lines))
    ok(r.returncode == 0 and len(lines) == 2 and all(" -> 200 " in l for l in lines),
       "the traffic client's round: every request 200")

    # 4. one checkout, one trace
    st, hdrs, body = get("http://tracegate:8080/shop/checkout?sku=9")
    ok(st == 200, "GET /shop/checkout through the gateway: %d" % st)
    tid = hdrs.get("X-Trace-Id", "")
    doc = json.loads(body)
    ok(doc.get("trace_id") == tid, "the shop's SDK continued the gateway's trace %s" % tid)
    inv = doc.get("inventory", {})
    ok(inv.get("status") == 200 and tid in (inv.get("body", {}).get("traceparent") or ""),
       "legacy, called by the shop through the gateway, got the same trace-id")
    names = []
    for _ in range(50):
        st, _, body = get("http://127.0.0.1:9901/api/traces/" + tid)
        if st == 200:
            names = sorted(s["name"] for s in json.loads(body)["spans"])
            if len(names) >= 4:
                break
        time.sleep(0.1)
    ok(names == ["GET", "GET", "GET /legacy", "GET /shop"],
       "the gateway's trace store: the SERVER and CLIENT spans of both hops, %s" % names)
    want = bytes.fromhex(tid)
    seen = set()
    for _ in range(100):
        for f in sorted(os.listdir(sink)):
            if f.endswith(".json"):
                meta = json.load(open(os.path.join(sink, f)))
                agent = dict((k.lower(), v) for k, v in meta["headers"]).get("user-agent", "")
                if want in open(os.path.join(sink, f[:-5] + ".body"), "rb").read():
                    seen.add(agent.split("/")[0])
        if {"tracegate", "OTel-OTLP-Exporter-JavaScript"} <= seen:
            break
        time.sleep(0.1)
    ok({"tracegate", "OTel-OTLP-Exporter-JavaScript"} <= seen,
       "the collector stand-in got the trace over OTLP from the gateway and the shop: %s"
       % sorted(seen))

    # 5. the drain
    slow = {}

    def slow_get():
        slow["status"] = get("http://tracegate:8080/legacy/inventory?delay_ms=1500")[0]
    th = threading.Thread(target=slow_get)
    th.start()
    time.sleep(0.3)
    gw.send_signal(signal.SIGTERM)
    codes = []
    for _ in range(20):
        r = subprocess.run(hc, capture_output=True)
        codes.append(r.returncode)
        if r.returncode:
            break
        time.sleep(0.05)
    # curl -f exits 22 on an HTTP error (the 503), 7 when nothing listens
    ok(codes[-1] == 22, "HEALTHCHECK fails with /readyz's 503 while draining (curl exits %s)"
       % codes)
    th.join(10)
    ok(slow.get("status") == 200, "a request in flight at SIGTERM finishes: %s"
       % slow.get("status"))
    rc = stop("tracegate", 30)
    ok(rc == 0, "the gateway exits 0 after the drain")
    errors = [l for l in open(os.path.join(work, "tracegate.err")) if " error " in l]
    ok(not errors, "no error in the gateway's log %s" % errors)
    for name in ("shop", "legacy", "sink"):
        stop(name)
    print("demo: %d passed, 0 failed" % passed)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
