#!/usr/bin/env python3
"""jsoncheck.py FILE: decodes FILE as strict JSON and prints one line per leaf.

The encoder tests (test_otlp_json.c, test_zipkin.c) run it so that what our
encoders produce is read back by a JSON implementation we did not write. The
file must be UTF-8 and JSON without NaN/Infinity or repeated keys; anything
else exits 1 with the reason on stderr.

Each value prints as PATH=VALUE, with PATH a JSON Pointer ("/spans/0/name")
and VALUE re-encoded by Python as ASCII JSON, so "123" (a string) and 123 (a
number) stay apart. Each object also prints PATH{}=its keys, sorted and
comma-separated, and each array PATH#=its length: a test can then assert that
a field is absent, not only that the others are present.
"""
import json
import sys


def no_repeats(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("repeated key in %r" % keys)
    return dict(pairs)


def no_constant(name):
    raise ValueError("not JSON: %s" % name)


def pointer(path, key):
    return path + "/" + str(key).replace("~", "~0").replace("/", "~1")


def walk(path, v, out):
    if isinstance(v, dict):
        out.append("%s{}=%s" % (path, ",".join(sorted(v))))
        for k in v:
            walk(pointer(path, k), v[k], out)
    elif isinstance(v, list):
        out.append("%s#=%d" % (path, len(v)))
        for i, e in enumerate(v):
            walk(pointer(path, i), e, out)
    else:
        out.append("%s=%s" % (path, json.dumps(v, ensure_ascii=True)))


def main():
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8", errors="strict")
        doc = json.loads(text, object_pairs_hook=no_repeats, parse_constant=no_constant)
    except ValueError as e:
        print("jsoncheck: %s" % e, file=sys.stderr)
        return 1
    out = []
    walk("", doc, out)
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
