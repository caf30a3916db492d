#!/usr/bin/python3
"""Checks the structure of docker/'s YAML files, read with Debian's
python3-yaml, and how they fit together and with the gateway's INI files:

  compose.yaml          (as `docker-compose config` resolved it, COMPOSE)
  otel-collector.yaml   the tail-sampling pipeline
  k8s/*.yaml            Deployment, ConfigMap, Service, PodDisruptionBudget

Writes the ConfigMap's tracegate.ini to OUT_INI for `tracegate -t`, and the
compose services demo.py starts to OUT_DEMO (JSON). Prints one "ok" line per
check; the first failed check exits 1.

Usage: manifests.py DOCKER_DIR COMPOSE OUT_INI OUT_DEMO
"""
import glob
import json
import os
import re
import shlex
import sys

import yaml

passed = 0


def ok(cond, what):
    global passed
    if not cond:
        sys.exit("manifests: FAIL: %s" % what)
    passed += 1
    print("manifests: ok %s" % what)


def ini(text):
    """{section: {key: value}} of a tracegate INI text (" ;" starts a comment)."""
    out, sec = {}, None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in ";#":
            continue
        if s.startswith("["):
            sec = s.strip("[]").strip()
            out[sec] = {}
            continue
        k, _, v = s.partition("=")
        out[sec][k.strip()] = re.split(r"\s;", v, maxsplit=1)[0].strip()
    return out


def host_port(addr):
    h, _, p = addr.rpartition(":")
    return h, int(p)


def url_host_port(url):
    m = re.match(r"https?://([^/:]+):(\d+)", url)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def seconds(v):
    """Compose durations: 20s, 1m30s, or a number."""
    if isinstance(v, (int, float)):
        return float(v)
    total = 0.0
    for n, unit in re.findall(r"([\d.]+)(ms|us|h|m|s)", v):
        total += float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}[unit]
    return total


def dockerfile_user(path):
    m = re.search(r"^USER\s+(\d+)", open(path).read(), re.M)
    return int(m.group(1)) if m else None


def dockerfile_copies(path):
    """Sources of every COPY without --from."""
    out = []
    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", open(path).read(), re.M):
        out += shlex.split(m.group(1))[:-1]
    return out


def check_compose(docker, compose, gw):
    services = compose["services"]
    names = set(services)
    for want in ("tracegate", "shop", "legacy", "otel-collector", "jaeger"):
        ok(want in names, "compose: service %s exists" % want)
    ok(not any(services[s].get("network_mode") for s in names),
       "compose: every service on the project network (names resolve)")
    for name, svc in services.items():
        b = svc.get("build")
        if b:
            df = os.path.join(b["context"], b.get("dockerfile", "Dockerfile"))
            ok(os.path.isfile(df), "compose: %s builds from %s, which exists" % (name, df))
            for src in dockerfile_copies(df):
                ok(os.path.exists(os.path.join(b["context"], src)),
                   "compose: %s: COPY source %s exists in its context" % (name, src))
        for v in svc.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if src and src.startswith("/"):
                ok(os.path.exists(src), "compose: %s mounts %s, which exists" % (name, src))

    tg = services["tracegate"]
    ok(tg["build"]["dockerfile"] == "docker/Dockerfile"
       and os.path.samefile(tg["build"]["context"], os.path.join(docker, "..")),
       "compose: tracegate is built by docker/Dockerfile from the repository")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in tg.get("volumes", [])}
    ok(os.path.samefile(mounts.get("/etc/tracegate/tracegate.ini", "/nonexistent"),
                        os.path.join(docker, "tracegate.ini")),
       "compose: tracegate reads docker/tracegate.ini at the image's config path")
    published = [str(p).split(":")[-1].split("/")[0] for p in tg.get("ports", [])]
    gw_port = host_port(gw["gateway"]["listen"].split()[0])[1]
    admin_port = host_port(gw["admin"]["listen"].split()[0])[1]
    ok(str(gw_port) in published, "compose: the proxy port %d is published" % gw_port)
    ok(str(admin_port) in published, "compose: the admin port %d is published" % admin_port)
    grace = seconds(tg.get("stop_grace_period", "10s"))
    need = (int(gw["gateway"].get("drain_timeout_ms", 10000))
            + int(gw["tracing"].get("flush_timeout_ms", 5000))) / 1000
    ok(grace > need, "compose: stop_grace_period %gs > drain + flush %gs" % (grace, need))

    # every host name the gateway resolves at start is a service it waits for
    deps = set(tg.get("depends_on", {}))
    for sec, keys in gw.items():
        if sec.startswith("upstream "):
            for addr in keys["servers"].replace(",", " ").split():
                h, p = host_port(addr)
                ok(h in deps, "compose: upstream server %s is a service tracegate depends on"
                   % addr)
                env = services[h].get("environment", {})
                ok(str(env.get("PORT")) == str(p), "compose: %s listens on PORT=%s, the port "
                   "tracegate.ini names (%d)" % (h, env.get("PORT"), p))
    h, p = url_host_port(gw["exporter.otlp"]["endpoint"])
    ok(h == "otel-collector", "compose: tracegate exports to the otel-collector service")
    col = services["otel-collector"]
    ok("contrib" in col["image"], "compose: the collector is the contrib distribution "
       "(tail_sampling)")
    cmounts = {v.split(":")[1]: v.split(":")[0] for v in col.get("volumes", [])}
    cfg = [a.split("=", 1)[1] for a in col.get("command", []) if a.startswith("--config=")]
    ok(len(cfg) == 1 and cfg[0] in cmounts
       and os.path.samefile(cmounts[cfg[0]], os.path.join(docker, "otel-collector.yaml")),
       "compose: the collector runs docker/otel-collector.yaml")
    jenv = services["jaeger"].get("environment", {})
    ok(str(jenv.get("COLLECTOR_OTLP_ENABLED")).lower() == "true", "compose: Jaeger takes OTLP")
    shop_env = services["shop"].get("environment", {})
    ok(url_host_port(shop_env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""))[0]
       == "otel-collector", "compose: the shop's SDK exports to the collector")
    return p


def check_collector(path, otlp_port):
    c = yaml.safe_load(open(path))
    pipes = c["service"]["pipelines"]
    ok("traces" in pipes, "collector: a traces pipeline")
    t = pipes["traces"]
    for kind in ("receivers", "processors", "exporters"):
        for name in t.get(kind, []):
            ok(name in (c.get(kind) or {}), "collector: %s %s is configured" % (kind[:-1], name))
    for name in c["service"].get("extensions", []):
        ok(name in (c.get("extensions") or {}), "collector: extension %s is configured" % name)
    http = c["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    ok(http == "0.0.0.0:%d" % otlp_port,
       "collector: OTLP/HTTP on 0.0.0.0:%d, where tracegate sends" % otlp_port)
    procs = t["processors"]
    ok("tail_sampling" in procs, "collector: the pipeline tail-samples")
    ok("batch" not in procs or procs.index("batch") > procs.index("tail_sampling"),
       "collector: batch after tail_sampling")
    pol = c["processors"]["tail_sampling"]["policies"]
    types = {p["type"]: p for p in pol}
    ok("ERROR" in types.get("status_code", {}).get("status_code", {}).get("status_codes", []),
       "collector: a policy keeps traces with an error")
    ok(types.get("latency", {}).get("latency", {}).get("threshold_ms", 0) > 0,
       "collector: a policy keeps slow traces")
    ok(0 < types.get("probabilistic", {}).get("probabilistic", {})
       .get("sampling_percentage", 0) < 100, "collector: a probabilistic baseline")
    ends = [e.get("endpoint", "") for n, e in c["exporters"].items() if n in t["exporters"]]
    ok(any(e.startswith("jaeger:") for e in ends), "collector: exports to the jaeger service")


def check_k8s(k8s, dockerfile, out_ini):
    docs = []
    for f in sorted(glob.glob(os.path.join(k8s, "*.yaml"))):
        for d in yaml.safe_load_all(open(f)):
            if d is None:
                continue
            ok(all(k in d for k in ("apiVersion", "kind", "metadata"))
               and d["metadata"].get("name"),
               "k8s: %s: %s %s has apiVersion, kind, metadata.name"
               % (os.path.basename(f), d.get("kind"), d.get("metadata", {}).get("name")))
            docs.append(d)
    by = {}
    for d in docs:
        by.setdefault(d["kind"], []).append(d)
    for kind in ("Deployment", "ConfigMap", "Service"):
        ok(len(by.get(kind, [])) == 1, "k8s: one %s" % kind)
    dep, svc = by["Deployment"][0], by["Service"][0]
    spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    ok(spec.get("replicas", 1) >= 2, "k8s: Deployment runs %d replicas" % spec.get("replicas", 1))
    ok(spec["selector"]["matchLabels"].items() <= labels.items(),
       "k8s: the Deployment's selector matches its pods")
    ok(len(pod["containers"]) == 1, "k8s: one container")
    c = pod["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in c["ports"]}

    def port_of(ref):
        return ports.get(ref, ref) if isinstance(ref, str) else ref

    # the configuration: mounted from the ConfigMap where args -c names it
    args = c.get("args", [])
    ok("-c" in args, "k8s: the container is given -c FILE")
    path = args[args.index("-c") + 1]
    mount = [m for m in c["volumeMounts"] if os.path.dirname(path) == m["mountPath"].rstrip("/")]
    ok(len(mount) == 1, "k8s: %s is on a volume mount" % path)
    vol = [v for v in pod["volumes"] if v["name"] == mount[0]["name"]][0]
    cm = by["ConfigMap"][0]
    ok(vol.get("configMap", {}).get("name") == cm["metadata"]["name"],
       "k8s: the mount is the ConfigMap %s" % cm["metadata"]["name"])
    text = cm["data"].get(os.path.basename(path))
    ok(text is not None, "k8s: the ConfigMap holds %s" % os.path.basename(path))
    with open(out_ini, "w") as f:
        f.write(text)
    k = ini(text)
    admin_host, admin_port = host_port(k["admin"]["listen"].split()[0])
    ok(admin_host in ("0.0.0.0", "[::]"),
       "k8s: the admin listener takes the kubelet's probes (listen %s)" % k["admin"]["listen"])
    gw_port = host_port(k["gateway"]["listen"].split()[0])[1]

    for probe, want in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        g = c.get(probe, {}).get("httpGet", {})
        ok(g.get("path") == want and port_of(g.get("port")) == admin_port,
           "k8s: %s GET %s on the admin port %d" % (probe, want, admin_port))
    pre = c.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre:
        pre_s = int(pre["sleep"]["seconds"])
    else:
        cmd = pre.get("exec", {}).get("command", [])
        ok(len(cmd) == 2 and cmd[0] == "sleep", "k8s: preStop sleeps (exec sleep N)")
        pre_s = int(cmd[1])
    ok(pre_s > 0, "k8s: preStop waits %ds for the endpoints to drop the pod" % pre_s)
    drain = int(k["gateway"].get("drain_timeout_ms", 10000)) / 1000
    flush = int(k.get("tracing", {}).get("flush_timeout_ms", 5000)) / 1000
    grace = pod.get("terminationGracePeriodSeconds", 30)
    ok(grace > pre_s + drain + flush, "k8s: terminationGracePeriodSeconds %d > preStop %d + "
       "drain %g + flush %g" % (grace, pre_s, drain, flush))

    uid = dockerfile_user(dockerfile)
    sc = dict(pod.get("securityContext", {}), **c.get("securityContext", {}))
    ok(sc.get("runAsNonRoot") is True, "k8s: runAsNonRoot")
    ok(sc.get("runAsUser", uid) == uid, "k8s: runAsUser is the image's USER %s" % uid)
    ok(c.get("resources", {}).get("limits", {}).get("memory"), "k8s: a memory limit")

    ok(svc["spec"]["selector"].items() <= labels.items(), "k8s: the Service selects the pods")
    tports = [port_of(p.get("targetPort", p["port"])) for p in svc["spec"]["ports"]]
    ok(tports == [gw_port], "k8s: the Service targets the proxy port %d only" % gw_port)
    for pdb in by.get("PodDisruptionBudget", []):
        ok(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(),
           "k8s: the PodDisruptionBudget selects the pods")
        ok(pdb["spec"].get("minAvailable", 0) < spec["replicas"],
           "k8s: minAvailable < replicas, so a node can still be drained")


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: manifests.py DOCKER_DIR COMPOSE OUT_INI OUT_DEMO")
    docker, compose_path, out_ini, out_demo = sys.argv[1:]
    compose = yaml.safe_load(open(compose_path))
    gw = ini(open(os.path.join(docker, "tracegate.ini")).read())
    otlp_port = check_compose(docker, compose, gw)
    check_collector(os.path.join(docker, "otel-collector.yaml"), otlp_port)
    check_k8s(os.path.join(docker, "k8s"), os.path.join(docker, "Dockerfile"), out_ini)
    with open(out_demo, "w") as f:
        json.dump(compose["services"], f, indent=1)
    print("manifests: %d passed, 0 failed" % passed)


if __name__ == "__main__":
    main()
