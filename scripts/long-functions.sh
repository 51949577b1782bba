#!/usr/bin/env bash
# Lists the C functions longer than MAX lines (default 80; signature to closing brace) in the
# given files (default service/*/*.c gis/*.c except the generated gis/pinyin_data.c). Exit status 1
# when there is one, unless --warn (then it only prints). `tests/run` runs it with --warn in its
# format step.
set -uo pipefail
cd "$(dirname "$0")/.."
warn=0
[ "${1:-}" = --warn ] && { warn=1; shift; }
max=${MAX:-80}
if [ $# -eq 0 ]; then
  set -- $(ls service/*/*.c gis/*.c | grep -v '^gis/pinyin_data\.c$')
fi
python3 - "$max" "$@" <<'PY'
import re, sys
limit, files = int(sys.argv[1]), sys.argv[2:]
sig = re.compile(r'^[A-Za-z_][^=;#]*\b([A-Za-z_]\w*)\s*\(')
found = 0
for path in files:
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    start = name = None
    depth = 0
    for i, line in enumerate(lines, 1):
        if depth == 0:
            m = sig.match(line)
            if m and not line.startswith(('typedef', 'struct ', 'enum ')):
                start, name = i, m.group(1)
            elif start and (line.strip() == '' or line.rstrip().endswith(';')):
                start = None
        code = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|//.*$', '', line)
        opened = depth
        depth += code.count('{') - code.count('}')
        if start and opened > 0 and depth == 0:
            n = i - start + 1
            if n > limit:
                print(f'{path}:{start}: {name} is {n} lines (limit {limit})')
                found += 1
            start = None
        elif depth == 0 and opened == 0 and '{' not in code:
            pass
print(f'{found} function(s) over {limit} lines')
sys.exit(1 if found else 0)
PY
rc=$?
[ $warn = 1 ] && exit 0
exit $rc
