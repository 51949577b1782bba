#!/usr/bin/env bash
# No vocabulary value is spelled outside service/core/vocab.c in service/ (comments aside):
#   - SQL: a code of any vocabulary quoted as an SQL literal ('new') or inside a PostgreSQL array
#     literal ("{city,county}") in a C string: SQL names vocabulary values only through
#     VOCAB_SQL_ANY / VOCAB_SQL_TERM (vocab.h), which the tables fill in;
#   - C: a string literal that is a code ("available"): code picks terms by position (RS_NEW) or
#     flag (VOCAB_OPEN), never by spelling. Error codes are another list that shares some words
#     ("not_found", "busy"): a word the tree answers as an error code (right after an HTTP status)
#     is not counted as a C literal; ALLOWED lists the few other words spelled like a code, each
#     with its reason.
# Two vocabularies are not checked (SKIP below): ErrorCode and AuditEntity, whose codes are the
# API's own nouns (see SKIP for why).
# The codes are read from the tables themselves (vocab_all). Exit status 1 when one is found.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/codes.c" <<'C'
#include <stdio.h>
#include "service/core/vocab.h"
int main(void) {
    size_t n;
    const vocab *const *all = vocab_all(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < all[i]->n; k++) printf("%s\t%s\n", all[i]->component, vocab_code(all[i], k));
    return 0;
}
C
cc -std=c11 -D_POSIX_C_SOURCE=200809L -I. $(pkg-config --cflags jansson) -o "$tmp/codes" \
  "$tmp/codes.c" service/core/vocab.c $(pkg-config --libs jansson) || exit 1
"$tmp/codes" >"$tmp/codes.tsv" || exit 1
for f in $(ls service/*/*.[ch] | grep -v '^service/core/vocab\.c$'); do
  # comments out, nothing else touched (no includes, no macro expansion)
  cc -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null >"$tmp/$(echo "$f" | tr / _)" || exit 1
done
python3 - "$tmp" <<'PY'
import glob, os, re, sys
tmp = sys.argv[1]
# Error codes are spelled where they are sent (test_vocabulary checks them against VOCAB_ERROR in
# both directions); they are not stored values.
# AuditEntity's codes ("station", "agency", "unit", "shift", "user") are the nouns of the whole API:
# JSON keys ("unit": {...}, "station"), query parameters (?unit=, ?user=), path words
# (param_path_id(r, 0, "unit", ...)), gazetteer kinds and CSV columns; a literal spelled like one is
# almost never the audit entity, so checking them would mean an ALLOWED row for most of those
# nouns. The entity is never passed as text instead: audit_write and admin_audit take its position
# (AE_* in vocab.h) and audit.c alone writes its code, so C cannot spell it where it is meant.
# StatsBy, StatsTerm and ReportField (the figures, issue 21) are the same kind of list: their codes are
# the names of groupings (?by=tier, county, station, category, month ...), of figures (the JSON keys
# "reports", "records", "total" ...) and of CSV columns ("id", "status", "lat" ...), i.e. the API's
# nouns again; no column stores them, and the tables exist to give those names their Chinese labels.
SKIP = {"ErrorCode", "AuditEntity", "StatsBy", "StatsTerm", "ReportField"}
codes = {}
for line in open(os.path.join(tmp, "codes.tsv"), encoding="utf-8"):
    comp, code = line.rstrip("\n").split("\t")
    if comp not in SKIP:
        codes.setdefault(code, []).append(comp)
# (file, literal): why a C string equal to a code is not that code
ALLOWED = {("service/cmd/seed.c", name): "a demo user is named after its role"
           for name in ("admin", "supervisor", "dispatcher", "patrol", "community")}
ALLOWED.update({
    ("service/cmd/initdb.c", "created"): "a message word (the role was created)",
    ("service/cmd/initdb.c", "admin"): "a command-line option's name",
    ("service/cmd/initdb.c", "patrol"): "the default database name",
    ("service/reports/reports.c", "created"): "a batch item's status (BatchResult), not a timeline type",
    ("service/door/schemas.c", "created"): "a batch item's status (BatchResult), not a timeline type",
    ("service/door/schemas.c", "duplicate"): "a reply key (Photo.duplicate)",
    ("service/reports/photos.c", "duplicate"): "a reply key (Photo.duplicate)",
    ("service/door/schemas.c", "available"): "a reply key (StatsCoverage.available)",
    ("service/stats/coverage_figures.c", "available"): "a reply key (StatsCoverage.available)",
    ("service/door/routes.c", "escalated"): "a query parameter's name (the report list's ?escalated=)",
    ("service/reports/reports_list.c", "escalated"): "a query parameter's name (?escalated=)"})
# words spelled like a code anywhere in service/, as C strings and SQL literals alike: why
WORDS = {"phone": "a field name (Station.phone, a contact's phone, the Open311 phone), not the"
                  " ReportSource code 'phone' (reports.c names that one by SRC_PHONE)"}

errcode = re.compile(r'\b[1-5][0-9][0-9]\s*(?:,\s*[0-9]+\s*)?[,?:]\s*"([a-z_]+)"')
string = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
errors = set()
for path in glob.glob(os.path.join(tmp, "service_*")):
    errors.update(errcode.findall(open(path, encoding="utf-8", errors="replace").read()))
found = 0
for path in sorted(glob.glob(os.path.join(tmp, "service_*"))):
    src = os.path.basename(path).replace("_", "/", 2)
    text = open(path, encoding="utf-8", errors="replace").read()
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.startswith("#include"):
            continue
        for lit in string.findall(line):
            hits = [m for m in re.findall(r"'([^']*)'", lit) if m in codes and m not in WORDS]
            arr = re.fullmatch(r"\{([A-Za-z0-9_.,]*)\}", lit)
            if arr:
                hits += [c for c in arr.group(1).split(",") if c in codes]
            for h in hits:
                print(f"{src}: SQL names {codes[h][0]} value '{h}': use VOCAB_SQL_ANY/VOCAB_SQL_TERM ({line.strip()[:80]})")
                found += 1
            if lit in codes and lit not in errors and (src, lit) not in ALLOWED and lit not in WORDS:
                print(f"{src}: \"{lit}\" spells a {codes[lit][0]} code: use its position or flag ({line.strip()[:80]})")
                found += 1
print(f"{found} vocabulary literal(s) outside vocab.c")
sys.exit(1 if found else 0)
PY
