#!/usr/bin/env python3
"""Reads the span exports a collector stand-in (tests/support/sink.py) stored
and prints one line per span, so a C test can assert with plain string
matching:

  <trace_id> <span_id> <parent_span_id> <KIND> <name> <service.name>

Ids are lowercase hex; "-" stands for an absent parent or service.name. KIND
is SERVER, CLIENT, INTERNAL, PRODUCER, CONSUMER or UNSPECIFIED. The name may
hold spaces ("GET /orders"): it is everything between the fourth field and
the last one. Lines come in storage order (seq), spans in body order.

Bodies understood:
  OTLP/JSON      {"resourceSpans": [...]}: ids in hex (what the OTLP/JSON
                 spec asks) or base64 (the generic protobuf JSON mapping),
                 both normalised to lowercase hex; kind as a number or an
                 enum name (SPAN_KIND_SERVER).
  Zipkin v2 JSON [{"traceId", "id", "parentId", "kind", "name",
                 "localEndpoint": {"serviceName"}}]: ids printed exactly as
                 sent (Zipkin asks for lowercase hex, so a test sees a
                 violation); an absent kind is INTERNAL.
Anything else (protobuf, an undecodable body) is named on stderr and makes
the exit status 1, after the spans that could be read are printed.

Usage:
  otlpjson.py [--jsonl] PATH...
  PATH is a sink directory (every <seq>.body in it whose <seq>.json exists)
  or a body file. --jsonl prints one JSON object per span instead, with the
  same normalised fields plus attributes, resource attributes, status,
  start/end times and trace_state, for tests that look deeper.

As a module: spans_from_body(bytes) and load(paths) return lists of dicts
with the keys trace_id, span_id, parent_span_id, kind, name, service_name,
attributes, resource, status, start_ns, end_ns, trace_state.
"""
import base64
import binascii
import json
import os
import re
import sys

KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
HEX = re.compile(r"[0-9a-fA-F]*")


class NotSpans(ValueError):
    pass


def norm_id(value, nbytes, what):
    """An OTLP/JSON id (hex or base64) -> lowercase hex, or None if empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NotSpans("%s is not a string: %r" % (what, value))
    if len(value) == 2 * nbytes and HEX.fullmatch(value):
        return value.lower()
    try:
        padded = value + "=" * (-len(value) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise NotSpans("%s is neither hex nor base64: %r" % (what, value))
    if len(raw) != nbytes:
        raise NotSpans("%s has %d bytes, not %d: %r" % (what, len(raw), nbytes, value))
    return raw.hex()


def any_value(v):
    """An OTLP AnyValue -> a plain Python value."""
    if not isinstance(v, dict) or not v:
        return None
    (k, x), = list(v.items())[:1]
    if k == "intValue":
        return int(x)
    if k == "doubleValue":
        return float(x)
    if k == "arrayValue":
        return [any_value(e) for e in x.get("values", [])]
    if k == "kvlistValue":
        return attrs(x.get("values", []))
    return x


def attrs(kvs):
    return {kv["key"]: any_value(kv.get("value")) for kv in kvs or []}


def kind_name(k):
    if isinstance(k, int) and 0 <= k < len(KINDS):
        return KINDS[k]
    if isinstance(k, str):
        name = k[len("SPAN_KIND_"):] if k.startswith("SPAN_KIND_") else k
        if name in KINDS:
            return name
    if k is None:
        return "UNSPECIFIED"
    raise NotSpans("bad span kind %r" % (k,))


def otlp_spans(doc):
    out = []
    for rs in doc.get("resourceSpans", []):
        res = attrs((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                out.append({
                    "trace_id": norm_id(s.get("traceId"), 16, "traceId"),
                    "span_id": norm_id(s.get("spanId"), 8, "spanId"),
                    "parent_span_id": norm_id(s.get("parentSpanId"), 8, "parentSpanId"),
                    "kind": kind_name(s.get("kind")),
                    "name": s.get("name", ""),
                    "service_name": res.get("service.name"),
                    "attributes": attrs(s.get("attributes")),
                    "resource": res,
                    "status": s.get("status") or {},
                    "start_ns": int(s.get("startTimeUnixNano", 0)),
                    "end_ns": int(s.get("endTimeUnixNano", 0)),
                    "trace_state": s.get("traceState") or None,
                })
    return out


def zipkin_spans(doc):
    out = []
    for s in doc:
        if not isinstance(s, dict):
            raise NotSpans("a Zipkin span is not an object")
        start = int(s.get("timestamp", 0)) * 1000
        out.append({
            "trace_id": s.get("traceId"),
            "span_id": s.get("id"),
            "parent_span_id": s.get("parentId"),
            "kind": s.get("kind") or "INTERNAL",
            "name": s.get("name", ""),
            "service_name": (s.get("localEndpoint") or {}).get("serviceName"),
            "attributes": s.get("tags") or {},
            "resource": {},
            "status": {},
            "start_ns": start,
            "end_ns": start + int(s.get("duration", 0)) * 1000,
            "trace_state": None,
        })
    return out


def spans_from_body(body):
    """Parses one stored body; raises NotSpans when it holds no JSON spans."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise NotSpans("not JSON (%s)" % e)
    try:
        if isinstance(doc, dict):
            return otlp_spans(doc)
        if isinstance(doc, list):
            return zipkin_spans(doc)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise NotSpans("unexpected shape: %s" % e)
    raise NotSpans("neither OTLP/JSON nor Zipkin v2 JSON")


def bodies(path):
    """The body files under <path>, in storage order."""
    if not os.path.isdir(path):
        return [path]
    seqs = sorted(int(n[:-5]) for n in os.listdir(path)
                  if n.endswith(".json") and n[:-5].isdigit())
    return [os.path.join(path, "%d.body" % s) for s in seqs]


def load(paths, errors=None):
    """Spans of every body under <paths>; unreadable bodies are appended to
    <errors> as (path, reason), or raise NotSpans when <errors> is None."""
    out = []
    for p in paths:
        for b in bodies(p):
            try:
                with open(b, "rb") as f:
                    out.extend(spans_from_body(f.read()))
            except (OSError, NotSpans) as e:
                if errors is None:
                    raise NotSpans("%s: %s" % (b, e))
                errors.append((b, str(e)))
    return out


def line(s):
    name = re.sub(r"[\x00-\x1f]", "?", s["name"]) or "-"
    return " ".join([s["trace_id"] or "-", s["span_id"] or "-", s["parent_span_id"] or "-",
                     s["kind"], name, s["service_name"] or "-"])


def main(argv):
    jsonl = "--jsonl" in argv
    paths = [a for a in argv if a != "--jsonl"]
    if not paths or any(p.startswith("-") for p in paths):
        sys.stderr.write("usage: otlpjson.py [--jsonl] DIR_OR_BODY...\n")
        return 2
    errors = []
    for s in load(paths, errors):
        print(json.dumps(s, sort_keys=True) if jsonl else line(s))
    for path, why in errors:
        sys.stderr.write("otlpjson: %s: %s\n" % (path, why))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
