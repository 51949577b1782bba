#!/usr/bin/env bash
# The shape of service/ (HACKING.md "Include rules"), checked from the code itself:
#   1. one header per .c: every function a header service/x/y.h declares is defined in
#      service/x/y.c (the compiler's own list, gcc -aux-info); handlers.h, the route handlers'
#      prototypes that routes.c needs, is the one header without a .c of its own;
#   2. no include circle between modules (a module is y.c with its header y.h; y -> z when y.c
#      includes z.h). The two wiring tables are no module's dependency: services.c (background
#      threads, worker state, error formats) and routes.c (the route table naming every handler)
#      include what they wire, and the modules they wire may use the plumbing that runs them.
# Prints each finding and exits 1 when there is one. `tests/run` runs it and counts it.
set -uo pipefail
cd "$(dirname "$0")/.."
aux=$(mktemp -d)
trap 'rm -rf "$aux"' EXIT
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DGEOS_USE_ONLY_R_API -I. \
  $(pkg-config --cflags libpq geos proj jansson libsodium zlib opencc 2>/dev/null)"
# -aux-info: one line per function declared or defined in the unit, with file:line and N[CF]
# (C: a declaration, F: the definition). Two at a time: the machine has two cores.
ls service/*/*.c | xargs -P2 -I{} sh -c \
  'cc '"$flags"' -fsyntax-only -aux-info "$1/$(echo {} | tr / _).aux" {} || echo "cannot compile {}" >"$1/failed.{}"' \
  _ "$aux" 2>&1
python3 - "$aux" service/*/*.c <<'PY'
import glob, os, re, sys
aux, files = sys.argv[1], sys.argv[2:]
NO_C = {"service/door/handlers.h"}  # the route handlers' prototypes (routes.c), defined per domain
WIRING = {"service/core/services.c", "service/door/routes.c"}
if glob.glob(os.path.join(aux, "failed.*")):
    print("check-structure: a file did not compile"); sys.exit(1)
line = re.compile(r"^/\* (?:\./)?(\S+):(\d+):N([CF]) \*/ (?:extern |static )?.*?\b(\w+) \(")
declared, defined = {}, {}
for path in glob.glob(os.path.join(aux, "*.aux")):
    for l in open(path, encoding="utf-8", errors="replace"):
        m = line.match(l)
        if not m or not m.group(1).startswith("service/"):
            continue
        where, kind, name = m.group(1), m.group(3), m.group(4)
        if kind == "C" and where.endswith(".h"):
            declared.setdefault(name, set()).add(where)
        elif kind == "F" and " static " not in l[:l.find("*/") + 10]:
            defined[name] = where
found = 0
for name, headers in sorted(declared.items()):
    for h in sorted(headers):
        if h in NO_C:
            continue
        d = defined.get(name)
        if d and d != h[:-2] + ".c":
            print(f"{h}: declares {name}, which {d} defines (one header per .c: move it to "
                  f"{d[:-2]}.h)")
            found += 1
# the module graph
inc = re.compile(r'^\s*#\s*include\s+"(service/[^"]+\.h)"', re.M)
edges = {}
for f in files:
    if f in WIRING:
        continue
    mod = f.rsplit(".", 1)[0]
    for h in inc.findall(open(f, encoding="utf-8", errors="replace").read()):
        if h[:-2] != mod:
            edges.setdefault(mod, set()).add(h[:-2])
state, stack, cycles = {}, [], []
def visit(m):
    state[m] = 1
    stack.append(m)
    for n in sorted(edges.get(m, ())):
        if state.get(n) == 1:
            cycles.append(stack[stack.index(n):] + [n])
        elif n not in state:
            visit(n)
    stack.pop()
    state[m] = 2
for m in sorted(edges):
    if m not in state:
        visit(m)
for c in cycles:
    print("include circle: " + " -> ".join(x.split("/", 1)[1] for x in c))
    found += 1
print(f"{found} structure finding(s)")
sys.exit(1 if found else 0)
PY
