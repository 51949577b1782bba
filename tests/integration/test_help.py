"""test_help.py - `patrold help` lists every form of every command (issue 17): the commands are read
from the dispatch table of service/cmd/main.c (and any name main() compares argv with), never from
a copy here; each must have its forms in the help, a misused command prints its forms (exit 2),
and `patrold help COMMAND` prints one command's."""
import os
import re
import unittest

import harness

MAIN_C = os.path.join(harness.ROOT, "service", "cmd", "main.c")


def dispatched():
    """{name: handler} of every row of main.c's commands[] table, plus the names main() itself
    compares a command word with (strcmp(argv[i], "help")), with handler None."""
    src = re.sub(r"/\*.*?\*/", "", open(MAIN_C, encoding="utf-8").read(), flags=re.S)
    table = re.search(r"\bcommands\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    assert table, "no commands[] table in main.c"
    names = dict(re.findall(r'\{\s*"([a-z][a-z0-9-]*)",\s*(cmd_\w+)', table.group(1)))
    main = src[src.index("int main("):]
    for name in re.findall(r'strcmp\(argv\[i\],\s*"([a-z][a-z0-9-]*)"\)', main):
        names.setdefault(name, None)
    return names


class HelpTest(unittest.TestCase):
    def setUp(self):
        r = harness.run_patrold(["help"])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.help = r.stdout
        self.forms = [l.strip() for l in self.help.splitlines() if l.startswith("  patrold ")]

    def forms_of(self, name):
        return [f for f in self.forms if f == "patrold " + name or f.startswith("patrold %s " % name)]

    def test_every_dispatched_command_is_in_help(self):
        names = dispatched()
        # the table parsed is the one main() dispatches from (a parse that found nothing proves nothing)
        self.assertGreaterEqual(len(names), 9, names)
        for must in ("serve", "migrate", "import-divisions", "import-stations", "init-db", "user", "apikey",
                     "locate", "config", "help"):
            self.assertIn(must, names)
        for name in names:
            self.assertTrue(self.forms_of(name), "%s is dispatched by main.c but not in `patrold help`" % name)
        # and nothing in the help that main.c does not dispatch
        for f in self.forms:
            self.assertIn(f.split()[1], names, f)

    def test_every_form(self):
        imp = self.forms_of("import-divisions")
        self.assertEqual(len(imp), 2, imp)  # boundaries (GeoJSON) and the division list (CSV)
        self.assertTrue(any("--crs" in f and "--level" in f and ".geojson" in f for f in imp), imp)
        self.assertTrue(any(".csv" in f and "--effective" in f for f in imp), imp)
        self.assertEqual(sorted(f.split()[2] for f in self.forms_of("apikey")), ["add", "list", "revoke"])
        self.assertTrue(all("--role" in f and "--division" in f for f in self.forms_of("user add")))
        for flag in ("--owner", "--database", "--admin", "--password-stdin"):
            self.assertIn(flag, self.forms_of("init-db")[0])
        self.assertIn("--crs", self.forms_of("locate")[0])
        self.assertIn("--crs", self.forms_of("import-stations")[0])
        self.assertEqual(self.forms_of("help"), ["patrold help [COMMAND]"])

    def test_misuse_prints_the_forms(self):
        """A misused command exits 2 with its own forms, exactly as the help has them."""
        for args in (["import-divisions"], ["import-stations"], ["user"], ["user", "add", "x"], ["apikey"], ["apikey", "drop", "x"],
                     ["locate", "a", "b", "c"], ["init-db", "--owner", "Bad-Name"], ["seed", "now"]):
            r = harness.run_patrold(args, env={"PATROLD_DATABASE": "host=/nonexistent"})
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            usage = [l[len("usage: "):] for l in r.stderr.splitlines() if l.startswith("usage: ")]
            self.assertEqual(usage, self.forms_of(args[0]), (args, r.stderr))

    def test_help_of_one_command(self):
        for name in dispatched():
            if name == "help":
                continue
            r = harness.run_patrold(["help", name])
            self.assertEqual(r.returncode, 0, name)
            usage = [l[len("usage: "):] for l in r.stdout.splitlines() if l.startswith("usage: ")]
            self.assertEqual(usage, self.forms_of(name))
            self.assertGreater(len(r.stdout.splitlines()), len(usage), "no description: %s" % name)
        r = harness.run_patrold(["help", "frobnicate"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("no command 'frobnicate'", r.stderr)


if __name__ == "__main__":
    unittest.main()
