"""weblists.py - finds copies of the server's vocabulary in web/ (the console and the apps take every
code list and every label from GET /api/v1/vocabulary). test_vocabulary.py runs it against the
vocabulary the server serves; by hand: `curl -s host/api/v1/vocabulary | python3 weblists.py`.

What counts as a copy:
- a JavaScript array, object or argument list that holds two or more codes of one vocabulary as
  its own items or keys (["new", "acknowledged"], {new: "...", resolved: "..."});
- a CSS file or index.html naming two or more codes of one vocabulary in class names or quoted
  values (.s-new and .s-resolved; data-status="new" ...);
- a vocabulary label written out: a JavaScript string, or the whole text of an HTML element,
  equal to a label ("待确认").
A single code in behaviour (`r.status === "new"`) is not a list. The live event kinds are left to
event_kinds(): the console's handler table names each kind on purpose, and must name them all.

Limits: a JavaScript regular-expression literal holding a quote would confuse the tokenizer (web/src
has none; write such a pattern with new RegExp and a string)."""
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEB = os.path.join(ROOT, "web")
EXEMPT = {"event_kinds"}  # named on purpose by the handler table; compared by event_kinds()
# report_fields names a report's keys (which any code reading one names) in words forms use too
# ("类别", "人数"): neither its codes nor its labels count as a copy
FIELD_NAMES = {"report_fields"}


def js_tokens(src):
    """(kind, value) tokens of JavaScript: "str" (a string, or a template's text), "id", "punct";
    comments dropped."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c in "\"'`":
            j, text = i + 1, []
            while j < n and src[j] != c:
                if src[j] == "\\":
                    text.append(src[j + 1:j + 2])
                    j += 2
                elif c == "`" and src.startswith("${", j):  # a template's expression: skipped
                    depth, j = 1, j + 2
                    while j < n and depth:
                        depth += {"{": 1, "}": -1}.get(src[j], 0)
                        j += 1
                    text.append("\0")
                else:
                    text.append(src[j])
                    j += 1
            out.append(("str", "".join(text)))
            i = j + 1
        elif c.isalnum() or c in "_$":
            m = re.compile(r"[\w$]+").match(src, i)
            out.append(("id", m.group(0)))
            i = m.end()
        else:
            out.append(("punct", c))
            i += 1
    return out


def js_groups(tokens):
    """The items and keys of every [...], {...} and (...) of a token list: a list of lists of str."""
    stack, groups = [[]], []
    for k, (kind, value) in enumerate(tokens):
        before = tokens[k - 1] if k else ("punct", "")
        after = tokens[k + 1] if k + 1 < len(tokens) else ("punct", "")
        if kind == "punct" and value in "[{(":
            stack.append([])
        elif kind == "punct" and value in "]})":
            if len(stack) > 1:
                groups.append(stack.pop())
        elif kind in ("str", "id") and before == ("punct", before[1]) and before[1] in "[{(," \
                and after[0] == "punct" and after[1] in ",]}):":
            if kind == "str" or after[1] == ":":  # a string item or key, or a bare key
                stack[-1].append(value)
    return groups + stack


def files(exts):
    for base, _, names in os.walk(os.path.join(WEB, "src")):
        for name in sorted(names):
            if name.endswith(exts):
                yield os.path.join(base, name)
    if ".html" in exts:  # the pages: the console's and the patrol app's
        yield os.path.join(WEB, "index.html")
        yield os.path.join(WEB, "app", "index.html")


def copies(vocabulary):
    """What in web/ repeats the vocabulary: a list of "file: what" strings (empty when nothing)."""
    codes = {name: {t["code"] for t in terms} for name, terms in vocabulary.items()
             if name not in EXEMPT | FIELD_NAMES}
    labels = {t["label"]: name for name, terms in vocabulary.items() for t in terms
              if t["label"] and name not in FIELD_NAMES}
    found = []

    def lists(where, words):
        for name, cs in codes.items():
            hit = sorted(cs & set(words))
            if len(hit) >= 2:
                found.append("%s: a list of %s: %s" % (where, name, ", ".join(hit)))

    for path in files((".js", ".mjs", ".css", ".html")):
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            src = f.read()
        if path.endswith((".js", ".mjs")):
            tokens = js_tokens(src)
            for group in js_groups(tokens):
                lists(rel, group)
            texts = [v for kind, v in tokens if kind == "str"]
        else:
            if path.endswith(".html"):
                classes = " ".join(re.findall(r'class="([^"]*)"', src)).split()
                texts = [t.strip() for t in re.findall(r">([^<>]+)<", src)]
            else:
                src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
                classes = re.findall(r"\.(-?[A-Za-z_][\w-]*)", src)
                texts = []
            quoted = re.findall(r"\"([^\"]*)\"|'([^']*)'", src)
            words = [c for cls in classes for c in [cls] + cls.split("-")[1:]]
            words += ["-".join(q).strip("-") for q in quoted]
            lists(rel, words)
        for t in texts:
            if t in labels:
                found.append("%s: the %s label %r written out" % (rel, labels[t], t))
    return found


def event_kinds(vocabulary):
    """The live event kinds named in web/src: every string of the form prefix.name whose prefix is
    one of the vocabulary's event kinds' ("report.", "unit.")."""
    prefixes = {t["code"].split(".")[0] for t in vocabulary.get("event_kinds", [])}
    named = set()
    for path in files((".js", ".mjs")):
        with open(path, encoding="utf-8") as f:
            for kind, value in js_tokens(f.read()):
                if kind == "str" and re.fullmatch(r"[a-z]+\.[a-z_]+", value) and value.split(".")[0] in prefixes:
                    named.add(value)
    return named


if __name__ == "__main__":
    vocab = json.load(sys.stdin)
    problems = copies(vocab)
    print("\n".join(problems) or "no copies of the vocabulary in web/")
    print("event kinds named in web/src: %s" % ", ".join(sorted(event_kinds(vocab))))
    sys.exit(1 if problems else 0)
