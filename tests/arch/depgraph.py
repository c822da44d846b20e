#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""depgraph.py: the module graph of cofferd, coffer and coffer-agent, from includes and from the
calls the linker resolves, and the structure rules docs/ARCHITECTURE.md states.

A module is a file stem in server/ (and its folders), common/, agent/ or cli/: x.c with x.h. A
component's internal header (x_int.h) only declares what its files share, so including it is not
a dependency; between those files, their calls are. A dependency A -> B is an #include of B's header in
a file of A, or a symbol that A's object file uses and B's defines (nm on the build's objects).
The server's folders are ranked as the design layers them (RANKS); a dependency that runs back up
goes from a folder to one ranked above it (a subfolder ranks just above its parent). Circles are
the strongly connected groups of more than one module; layers are the levels of the graph with
each circle as one node.

  depgraph.py BUILD_DIR            print the summary
  depgraph.py BUILD_DIR --check    also enforce the limits below (a ctest test); exit 1 if broken
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREES = ("common", "server", "agent", "cli")
# Lowest first. common is below everything; agent/ and cli/ are programs of their own. The
# server's state and configuration (core.c, config.c, confine.c, directly in server/) are what the
# front end serves; main.c, the process, is above all.
RANKS = ["common", "server/net", "server/store", "server/api", "server/identity", "server/engines",
         "server/audit", "server", "server/front", "server/main"]
MAX_C_LINES = 800
MAX_BACK_UP = 0  # the issue allowed 12; none is left, so none may come back
MAX_TOP_FILES = 8  # files directly in server/


def module_of(path):
    """(module id, folder) of a source path relative to ROOT."""
    folder, name = os.path.split(path)
    stem = re.sub(r"\.[ch]$", "", name)
    return folder + "/" + stem, folder


def sources():
    out = []
    for tree in TREES:
        for d, _, files in os.walk(os.path.join(ROOT, tree)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), ROOT))
    return sorted(out)


def resolve_include(src, name, headers):
    folder = os.path.dirname(src)
    for cand in (os.path.join(folder, name), os.path.join("server", name),
                 os.path.join("common", name)):
        if cand in headers:
            return cand
    return None


def include_edges(files):
    headers = {f for f in files if f.endswith(".h")}
    edges = {}
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in files:
        with open(os.path.join(ROOT, f)) as fh:
            text = fh.read()
        for name in inc.findall(text):
            h = resolve_include(f, name, headers)
            if h and not f.endswith("_int.h") and not h.endswith("_int.h"):
                edges.setdefault((module_of(f)[0], module_of(h)[0]), set()).add(
                    "%s includes %s" % (f, h))
    return edges


def object_files(build):
    objs = {}
    base = os.path.join(build, "CMakeFiles")
    for d, _, files in os.walk(base):
        for f in files:
            if not f.endswith(".c.o"):
                continue
            full = os.path.join(d, f)
            rel = os.path.relpath(full, base)
            # <target>.dir/<source path>.o
            src = rel.split("/", 1)[1][:-2] if "/" in rel else None
            if src and src.split("/")[0] in TREES and os.path.exists(os.path.join(ROOT, src)):
                objs.setdefault(src, full)
    return objs


def call_edges(build):
    objs = object_files(build)
    defined, used = {}, {}
    for src, obj in objs.items():
        out = subprocess.run(["nm", obj], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRC":
                defined[parts[2]] = src
            elif len(parts) == 2 and parts[0] == "U":
                used.setdefault(src, set()).add(parts[1])
    edges = {}
    for src, syms in used.items():
        for s in syms:
            d = defined.get(s)
            if d and module_of(d)[0] != module_of(src)[0]:
                edges.setdefault((module_of(src)[0], module_of(d)[0]), set()).add(
                    "%s calls %s (%s)" % (src, s, d))
    return edges, len(objs)


def rank(module, folder):
    if module in RANKS:
        return RANKS.index(module)
    best, r = None, None
    for i, name in enumerate(RANKS):
        if folder == name or folder.startswith(name + "/"):
            if best is None or len(name) > len(best):
                best, r = name, i
    if best is None:
        return None
    return r + (0.5 if folder != best else 0)


def sccs(nodes, adj):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(adj.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    build, check = sys.argv[1], "--check" in sys.argv[2:]
    files = sources()
    modules = {module_of(f)[0] for f in files}
    folder_of = {module_of(f)[0]: module_of(f)[1] for f in files}
    edges = include_edges(files)
    calls, n_objs = call_edges(build)
    if n_objs == 0:
        print("no object files under %s: build first" % build)
        return 1
    for k, v in calls.items():
        edges.setdefault(k, set()).update(v)
    edges = {k: v for k, v in edges.items() if k[0] != k[1]}
    adj = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)

    comps = sccs(modules, adj)
    circles = [c for c in comps if len(c) > 1]
    comp_of = {m: i for i, c in enumerate(comps) for m in c}
    level = {}

    def lvl(i):
        if i not in level:
            level[i] = 0
            deps = {comp_of[b] for m in comps[i] for b in adj.get(m, ()) if comp_of[b] != i}
            level[i] = 1 + max((lvl(j) for j in deps), default=-1)
        return level[i]

    n_layers = 1 + max(lvl(i) for i in range(len(comps)))
    back = []
    for (a, b), why in sorted(edges.items()):
        ra, rb = rank(a, folder_of[a]), rank(b, folder_of[b])
        if ra is not None and rb is not None and rb > ra:
            back.append((a, b, sorted(why)[0]))

    core_users = sorted({f for f in files if f.startswith("server/")
                         and re.search(r'#\s*include\s+"core\.h"', open(os.path.join(ROOT, f)).read())})
    core_below = [f for f in core_users if not f.startswith("server/front/")
                  and os.path.dirname(f) != "server"]
    route_in_mech = sorted(f for f in files if f.startswith("server/") and f.endswith(".h")
                           and not f.startswith(("server/front/", "server/api/"))
                           and re.search(r'#\s*include\s+"(front/router|api/route)\.h"',
                                         open(os.path.join(ROOT, f)).read()))
    long_c = sorted((n, f) for f in files if f.endswith(".c")
                    for n in [sum(1 for _ in open(os.path.join(ROOT, f)))] if n > MAX_C_LINES)
    top = sorted(f for f in os.listdir(os.path.join(ROOT, "server"))
                 if f.endswith((".c", ".h")))

    print("modules %d, dependencies %d, layers %d, circles %d, running back up %d"
          % (len(modules), len(edges), n_layers, len(circles), len(back)))
    for c in circles:
        print("circle: " + " <-> ".join(c))
    for a, b, why in back:
        print("back up: %s -> %s   (%s)" % (a, b, why))
    print("files including core.h: %d: %s" % (len(core_users), " ".join(core_users)))
    print("mechanism headers including the route API of front/: %d: %s"
          % (len(route_in_mech), " ".join(route_in_mech)))
    print(".c files over %d lines: %d: %s" % (MAX_C_LINES, len(long_c),
                                               " ".join("%s (%d)" % (f, n) for n, f in long_c)))
    print("files directly in server/: %d: %s" % (len(top), " ".join(top)))
    if not check:
        return 0
    broken = []
    if circles:
        broken.append("%d circles" % len(circles))
    if len(back) > MAX_BACK_UP:
        broken.append("%d dependencies run back up (at most %d)" % (len(back), MAX_BACK_UP))
    if long_c:
        broken.append("%d .c files over %d lines" % (len(long_c), MAX_C_LINES))
    if len(top) > MAX_TOP_FILES:
        broken.append("%d files directly in server/ (at most %d)" % (len(top), MAX_TOP_FILES))
    if core_below:
        broken.append("core.h included below front/: " + " ".join(core_below))
    if route_in_mech:
        broken.append("mechanism headers include the route API: " + " ".join(route_in_mech))
    for b in broken:
        print("BROKEN: " + b)
    print("%d passed, %d failed" % (6 - len(broken), len(broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
