#!/usr/bin/env python3
"""The engine's dependencies point one way (docs/architecture.md, "Folders"): no file uses a file
of a later stage, and no two files use each other, directly or through others.

Two views, because either alone misses something: the #include lines between engine files, and
the symbols each object file of the built library takes from the others (nm), which also sees a
call made through a public header such as segcam.h that many files implement.

usage: check-layers.py ENGINE_DIR LIBSEGCAM.a"""
import os
import re
import subprocess
import sys

# Earliest first: a file may use its own stage and the ones before it.
STAGES = ["include", "core", "format", "ops", "graph", "import", "run", "explain", "train"]


def engine_files(top):
    files = {}
    for stage in STAGES:
        folder = os.path.join(top, stage)
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                files[stage + "/" + name] = os.path.join(folder, name)
    return files


def unit(path):
    """A .c file and the header named after it are one unit: foo.h declares what foo.c defines."""
    return path.rsplit(".", 1)[0]


def include_edges(files):
    by_name = {}
    for rel in files:
        by_name.setdefault(os.path.basename(rel), []).append(rel)
    edges = set()
    for rel, path in files.items():
        with open(path, encoding="utf-8") as f:
            for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read(), re.M):
                for target in by_name.get(os.path.basename(name), []):
                    if unit(target) != unit(rel):
                        edges.add((unit(rel), unit(target)))
    return edges


def symbol_edges(library):
    out = subprocess.run(["nm", "-A", "--defined-only", "-g", library], capture_output=True,
                         text=True, check=True).stdout
    defined = {}
    for line in out.splitlines():
        defined[line.split()[-1]] = os.path.basename(line.split(":")[1])
    out = subprocess.run(["nm", "-A", "-u", library], capture_output=True, text=True,
                         check=True).stdout
    edges = set()
    for line in out.splitlines():
        obj, sym = os.path.basename(line.split(":")[1]), line.split()[-1]
        if sym in defined and defined[sym] != obj:
            edges.add((obj, defined[sym]))
    # Object files are named after their source: run_plan.c.o is run/plan.c.
    def name(obj):
        stage, rest = obj.split("_", 1)
        return stage + "/" + rest[: -len(".c.o")]
    return {(name(a), name(b)) for a, b in edges if a.endswith(".c.o") and b.endswith(".c.o")}


def cycles(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    found, state, stack = [], {}, []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for u in sorted(graph.get(v, ())):
            if state.get(u) == "open":
                found.append(stack[stack.index(u):] + [u])
            elif u not in state:
                visit(u)
        stack.pop()
        state[v] = "done"

    for v in sorted(graph):
        if v not in state:
            visit(v)
    return found


def main():
    top, library = sys.argv[1], sys.argv[2]
    problems = []
    for view, edges in (("#include", include_edges(engine_files(top))),
                        ("symbols", symbol_edges(library))):
        for a, b in sorted(edges):
            if STAGES.index(b.split("/")[0]) > STAGES.index(a.split("/")[0]):
                problems.append(f"{view}: {a} uses {b}, a later stage")
        for c in cycles(edges):
            problems.append(f"{view}: cycle " + " -> ".join(c))
        print(f"{view}: {len(edges)} dependencies between engine units")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
