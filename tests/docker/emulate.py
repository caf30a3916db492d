#!/usr/bin/python3
"""Runs docker/Dockerfile as a plain script, where no container engine runs.

The instructions are read from the Dockerfile itself, so this check cannot
drift from it. The host stands in for the base images (it must be Debian 12).

  build stage    every step runs for real: WORKDIR is a directory under WORK,
                 COPY copies from the build context (the source tree, filtered
                 by docker/Dockerfile.dockerignore), RUN runs with /bin/sh -c
                 there (installing what is missing, building, the unit tests)
  runtime stage  COPY (from the context or the build stage) is done under
                 WORK/<stage>/; its RUN would change the host (apt lists, a
                 user), so each of its commands must be one this script knows:
                 install-deps.sh runs (it installs only what is missing), then
                 every shared library the binary loads and the HEALTHCHECK's
                 program must come from the installed packages; "rm -rf" is
                 left out (it only slims the image); useradd is checked
                 against USER, which the next step runs the binary as.

An instruction or a command it does not know fails the check: teach it here.
Writes WORK/image.json (root, uid, gid, argv, healthcheck) for demo.py.

Usage: emulate.py DOCKERFILE CONTEXT WORK
"""
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

# in every Debian image, slim too: needs no runtime line in packages.txt
BASE_PACKAGES = {"libc6"}


def die(msg):
    sys.exit("emulate: FAIL: %s" % msg)


def say(msg):
    print("emulate: %s" % msg, flush=True)


def parse(path):
    """The Dockerfile as stages: [{"base", "name", "steps": [(line, INSTR, args)]}]."""
    stages, logical, start = [], "", 0
    lines = open(path).read().split("\n")
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not logical and (not s or s.startswith("#")):
            continue
        if logical and s.startswith("#"):
            continue  # a comment inside a continued instruction
        if not logical:
            start = no
        if s.endswith("\\"):
            logical += s[:-1].strip() + " "
            continue
        logical += s
        instr, _, args = logical.partition(" ")
        instr, args, logical = instr.upper(), args.strip(), ""
        if instr == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3) or (len(words) == 3 and not name):
                die("%s:%d: FROM %s: expected IMAGE [AS NAME]" % (path, start, args))
            stages.append({"base": words[0], "name": name, "steps": []})
        elif not stages:
            die("%s:%d: %s before FROM" % (path, start, instr))
        else:
            stages[-1]["steps"].append((start, instr, args))
    if logical:
        die("%s: ends inside a continued line" % path)
    return stages


def flags(args):
    """Splits leading --name=value options off <args>: (dict, rest)."""
    out = {}
    while args.startswith("--"):
        opt, _, args = args.partition(" ")
        name, _, value = opt[2:].partition("=")
        out[name] = value
        args = args.lstrip()
    return out, args


def exec_form(args, where):
    try:
        argv = json.loads(args)
    except ValueError:
        die("%s: expected the exec form [\"prog\", \"arg\"...], got %s" % (where, args))
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        die("%s: expected a JSON array of strings" % where)
    return argv


def ignore_rules(context, dockerfile):
    """The patterns of <dockerfile>.dockerignore (BuildKit's rule), else of
    the context's .dockerignore; [] when there is neither."""
    for f in (dockerfile + ".dockerignore", os.path.join(context, ".dockerignore")):
        if os.path.exists(f):
            rules = []
            for line in open(f):
                line = line.strip()
                if line and not line.startswith("#"):
                    rules.append(line)
            return rules
    return []


def ignored(rel, rules):
    """Docker's rule: the last matching pattern wins; "!" re-includes;
    "**/" matches any number of directories; a match excludes the subtree."""
    parts = rel.split("/")
    verdict = False
    for rule in rules:
        neg = rule.startswith("!")
        pat = rule[1:] if neg else rule
        pat = pat.strip("/")
        for i in range(1, len(parts) + 1):
            head = "/".join(parts[:i])
            if fnmatch.fnmatchcase(head, pat) or (
                pat.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pat[3:])
            ):
                verdict = not neg
                break
    return verdict


def make_context(src, dst, rules):
    """Copies the source tree to <dst> without what the ignore rules exclude."""
    n = 0
    for dirpath, dirnames, filenames in os.walk(src):
        reldir = os.path.relpath(dirpath, src)
        reldir = "" if reldir == "." else reldir + "/"
        dirnames[:] = [d for d in dirnames if not ignored(reldir + d, rules)]
        os.makedirs(os.path.join(dst, reldir), exist_ok=True)
        for f in filenames:
            if ignored(reldir + f, rules):
                continue
            s = os.path.join(dirpath, f)
            if os.path.islink(s):
                os.symlink(os.readlink(s), os.path.join(dst, reldir + f))
            else:
                shutil.copy2(s, os.path.join(dst, reldir + f))
            n += 1
    return n


def copy(srcs, dest, from_root, cwd_abs, root, where):
    """COPY <srcs> <dest>: sources under <from_root>, dest in <root> (relative
    to the container's working directory <cwd_abs>)."""
    dest_abs = dest if dest.startswith("/") else os.path.join(cwd_abs, dest)
    into_dir = dest.endswith("/") or dest in (".", "./") or len(srcs) > 1
    target = root + os.path.normpath(dest_abs)
    for s in srcs:
        path = os.path.normpath(os.path.join(from_root, s.lstrip("/")))
        if not os.path.exists(path):
            die("%s: COPY source %s does not exist" % (where, s))
        if os.path.isdir(path):
            shutil.copytree(path, target, dirs_exist_ok=True, symlinks=True)
        else:
            os.makedirs(target if into_dir else os.path.dirname(target), exist_ok=True)
            shutil.copy2(path, os.path.join(target, os.path.basename(path)) if into_dir else target)


def check_base(base, want):
    ver = open("/etc/debian_version").read().strip()
    if base not in want:
        die("FROM %s: this check stands in for %s only" % (base, " or ".join(want)))
    if not ver.startswith("12"):
        die("FROM %s: the host must be Debian 12 to stand in for it, it is %s" % (base, ver))


def package_of(path):
    """The Debian package that owns <path> (usrmerge aliases tried)."""
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        if p.startswith("/lib"):
            cands.append("/usr" + p)
        elif p.startswith("/usr/lib"):
            cands.append(p[4:])
    for p in cands:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def main():
    if len(sys.argv) != 4:
        die("usage: emulate.py DOCKERFILE CONTEXT WORK")
    dockerfile, src, work = (os.path.abspath(a) for a in sys.argv[1:])
    stages = parse(dockerfile)
    if len(stages) != 2 or not stages[0]["name"]:
        die("expected two stages, a named build stage then the runtime stage")
    build, runtime = stages
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)  # the runtime stage's user must reach its files

    context = os.path.join(work, "context")
    rules = ignore_rules(src, dockerfile)
    n = make_context(src, context, rules)
    say("build context: %d files (%d ignore rules)" % (n, len(rules)))

    # ---- the build stage: every step for real ----
    check_base(build["base"], ["debian:12"])
    broot = os.path.join(work, build["name"])
    cwd = "/"
    env = dict(os.environ)
    for line, instr, args in build["steps"]:
        where = "%s:%d" % (os.path.basename(dockerfile), line)
        if instr == "WORKDIR":
            cwd = os.path.normpath(os.path.join(cwd, args))
            os.makedirs(broot + cwd, exist_ok=True)
        elif instr == "COPY":
            opts, rest = flags(args)
            if opts:
                die("%s: COPY options %s are not emulated" % (where, opts))
            words = shlex.split(rest)
            copy(words[:-1], words[-1], context, cwd, broot, where)
        elif instr == "RUN":
            argv = exec_form(args, where) if args.startswith("[") else ["/bin/sh", "-c", args]
            say("%s: RUN %s" % (where, args))
            r = subprocess.run(argv, cwd=broot + cwd, env=env)
            if r.returncode:
                die("%s: RUN exited %d" % (where, r.returncode))
        else:
            die("%s: %s in the build stage is not emulated" % (where, instr))
    say("build stage: done")

    # ---- the runtime stage ----
    check_base(runtime["base"], ["debian:12-slim"])
    rroot = os.path.join(work, "runtime")
    os.makedirs(rroot, 0o755, exist_ok=True)
    cwd, users, installed = "/", {}, None
    image = {"root": rroot, "uid": None, "gid": None, "entrypoint": [], "cmd": [],
             "healthcheck": None, "expose": []}
    for line, instr, args in runtime["steps"]:
        where = "%s:%d" % (os.path.basename(dockerfile), line)
        if instr == "WORKDIR":
            cwd = os.path.normpath(os.path.join(cwd, args))
            os.makedirs(rroot + cwd, exist_ok=True)
        elif instr == "COPY":
            opts, rest = flags(args)
            words = shlex.split(rest)
            if set(opts) - {"from"}:
                die("%s: COPY options %s are not emulated" % (where, opts))
            if "from" in opts:
                if opts["from"] != build["name"]:
                    die("%s: COPY --from=%s: not the build stage" % (where, opts["from"]))
                copy(words[:-1], words[-1], broot, cwd, rroot, where)
            else:
                copy(words[:-1], words[-1], context, cwd, rroot, where)
        elif instr == "RUN":
            for cmd in (c.strip() for c in args.split("&&")):
                w = shlex.split(cmd)
                if w and w[0].endswith("/install-deps.sh"):
                    script = rroot + w[0] if w[0].startswith("/") else rroot + cwd + "/" + w[0]
                    if len(w) != 2 or w[1] != "runtime":
                        die("%s: the runtime stage must run install-deps.sh runtime" % where)
                    say("%s: RUN %s (from the stage's copy)" % (where, cmd))
                    if subprocess.run([script, "runtime"]).returncode:
                        die("%s: %s failed" % (where, cmd))
                    pk = os.path.join(os.path.dirname(script), "packages.txt")
                    installed = {l.split()[1] for l in open(pk)
                                 if l.split()[:1] == ["runtime"]}
                elif w[:2] == ["rm", "-rf"]:
                    say("%s: left out: %s (slims the image, would clean the host)" % (where, cmd))
                elif w and w[0] == "useradd":
                    if "--uid" not in w:
                        die("%s: useradd without --uid: the user needs a fixed id" % where)
                    uid = int(w[w.index("--uid") + 1])
                    users[uid] = w[-1]
                    say("%s: useradd %s (uid %d): emulated by USER" % (where, w[-1], uid))
                else:
                    die("%s: RUN command not emulated: %s" % (where, cmd))
        elif instr == "USER":
            u, _, g = args.partition(":")
            if not u.isdigit() or (g and not g.isdigit()):
                die("%s: USER %s: use numeric ids (Kubernetes' runAsNonRoot checks them)"
                    % (where, args))
            if int(u) == 0:
                die("%s: USER 0 is root" % where)
            if int(u) not in users:
                die("%s: USER %s: no RUN useradd --uid %s before it" % (where, args, u))
            image["uid"], image["gid"] = int(u), int(g or u)
        elif instr == "EXPOSE":
            image["expose"] = [int(p.split("/")[0]) for p in args.split()]
        elif instr == "HEALTHCHECK":
            opts, rest = flags(args)
            kw, _, cmd = rest.partition(" ")
            if kw.upper() != "CMD":
                die("%s: HEALTHCHECK without CMD" % where)
            image["healthcheck"] = {"argv": exec_form(cmd.strip(), where), "options": opts}
        elif instr in ("ENTRYPOINT", "CMD"):
            image[instr.lower()] = exec_form(args, where)
        else:
            die("%s: %s in the runtime stage is not emulated" % (where, instr))

    if image["uid"] is None:
        die("the runtime stage has no USER: it would run as root")
    if not image["healthcheck"]:
        die("the runtime stage has no HEALTHCHECK")
    if installed is None:
        die("the runtime stage does not run install-deps.sh runtime")
    if not image["entrypoint"]:
        die("the runtime stage has no ENTRYPOINT")

    # What the runtime packages must provide: the binary's libraries and the
    # healthcheck's program.
    binary = rroot + image["entrypoint"][0]
    if not os.access(binary, os.X_OK):
        die("ENTRYPOINT %s is not an executable in the image" % image["entrypoint"][0])
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for lib in re.findall(r"=> (/\S+)", ldd):
        pkg = package_of(lib)
        if pkg not in installed | BASE_PACKAGES:
            die("%s loads %s (package %s): add \"runtime %s\" to docker/packages.txt"
                % (image["entrypoint"][0], lib, pkg, pkg))
        say("library %s: package %s (%s)"
            % (lib, pkg, "runtime" if pkg in installed else "base image"))
    hc = image["healthcheck"]["argv"][0]
    prog = shutil.which(hc)
    pkg = package_of(os.path.realpath(prog)) if prog else None
    if pkg not in installed:
        die("HEALTHCHECK runs %s (package %s), not installed by the runtime packages" % (hc, pkg))
    say("HEALTHCHECK program %s: package %s (runtime)" % (hc, pkg))

    # the image's argv, its absolute paths mapped into the stage's directory
    def mapped(a):
        return rroot + a if a.startswith("/") and os.path.exists(rroot + a) else a
    image["argv"] = [mapped(a) for a in image["entrypoint"] + image["cmd"]]
    with open(os.path.join(work, "image.json"), "w") as f:
        json.dump(image, f, indent=1)
    say("runtime stage: done, user %d:%d, %s"
        % (image["uid"], image["gid"], " ".join(image["argv"])))


if __name__ == "__main__":
    main()
