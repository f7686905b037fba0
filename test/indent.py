#!/usr/bin/python3
"""test/indent.py -- lay out the C sources under src/ as PostgreSQL's
pgindent does, with pg_bsd_indent (Debian package pg-bsd-indent).

    python3 test/indent.py              reformat every tracked src/*.[ch] in place
    python3 test/indent.py FILE...      only these
    python3 test/indent.py --check      print what would change (a unified
                                        diff) and exit 1 if anything would
    python3 test/indent.py --typedefs   print the type names it tells the
                                        indenter about

pgindent itself (a Perl wrapper in PostgreSQL's source tree) is not packaged,
only the indenter under it, so this is our own wrapper around it: the same
indenter switches as PostgreSQL 15's pgindent, a list of type names, and two
repairs of the indenter's output that pgindent also makes.

The type names matter: the indenter decides that "Foo *x;" declares x only
when it knows Foo is a type, and lays out "(Foo *) p" and "Foo *f(void)"
by the same knowledge.  PostgreSQL's own list is made from the debugging
information of a build farm; ours is read from the typedefs in our sources
and in the headers we compile against (the server's, libpq's, zstd's, the
compiler's and the C library's), so it changes only when those do, and a
new typedef in src/ is known as soon as it is written.
"""

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# PostgreSQL 15's pgindent switches: tabs of 4, declarations at column 12
# (-di12), comments after code at column 33 (-cp33) and wrapped at 79 (-l79),
# braces on lines of their own (-bl), function names at the line's start.
SWITCHES = ["-bad", "-bap", "-bbb", "-bc", "-bl", "-cli1", "-cp33", "-cdb",
            "-nce", "-d0", "-di12", "-nfc1", "-i4", "-l79", "-lp", "-lpl",
            "-nip", "-npro", "-sac", "-tpg", "-ts4"]


# Names our template headers (gvheap.h, gvselect.h) use as types: macros
# that an includer defines to one, which no typedef declares.
TEMPLATE_TYPES = ["GV_HEAP_ELEMENT", "GV_SELECT_ELEMENT", "GV_SELECT_KEY_TYPE",
                  "GV_SELECT_ARG_TYPE", "GVS_INT64"]


def header_dirs():
    """The headers whose typedefs our sources may use."""
    dirs = [os.path.join(TOP, "src"), os.path.join(TOP, "gpu")]
    for flag in ("--includedir-server", "--includedir"):
        try:
            out = subprocess.run(["pg_config", flag], capture_output=True,
                                 text=True, check=True).stdout.strip()
            dirs.append(out)
        except (OSError, subprocess.CalledProcessError):
            pass
    try:
        gcc = subprocess.run(["gcc", "-print-file-name=include"],
                             capture_output=True, text=True).stdout.strip()
        if os.path.isdir(gcc):
            dirs.append(gcc)
    except OSError:
        pass
    for h in ("zstd.h", "stdio.h"):
        dirs.append(os.path.join("/usr/include", h))
    try:
        triplet = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                                 text=True).stdout.strip()
    except OSError:
        triplet = ""
    multiarch = os.path.join("/usr/include", triplet or "x86_64-linux-gnu")
    for sub in ("bits/types", "bits/stdint-intn.h", "bits/stdint-uintn.h",
                "bits/pthreadtypes.h", "sys/types.h"):
        dirs.append(os.path.join(multiarch, sub))
    return [d for d in dirs if os.path.exists(d)]


def strip_balanced(text, opener, closer):
    """text without what nests inside opener ... closer (kept: the rest)."""
    out = []
    depth = 0
    for c in text:
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def typedef_statements(text):
    """Each "typedef ... ;" of a C file (comments and directives removed)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    for m in re.finditer(r"\btypedef\b", text):
        depth = 0
        end = m.end()
        while end < len(text):
            c = text[end]
            if c in "{(":
                depth += 1
            elif c in "})":
                depth -= 1
            elif c == ";" and depth == 0:
                break
            end += 1
        yield text[m.end():end]


def declared_names(statement):
    """The names one typedef statement declares."""
    while "__attribute__" in statement:
        at = statement.index("__attribute__")
        rest = statement[at + len("__attribute__"):]
        statement = statement[:at] + " " + strip_parenthesised_prefix(rest)
    body = strip_balanced(statement, "{", "}")
    pointer = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(", body)
    if pointer:                 # typedef ret (*Name) (args)
        return [pointer.group(1)]
    body = re.sub(r"\[[^\]]*\]", " ", body)
    body = re.sub(r"\([^()]*\)\s*$", "", body.strip())     # typedef ret Name(args)
    names = []
    for part in body.split(","):
        ids = re.findall(r"[A-Za-z_]\w*", part)
        if ids:
            names.append(ids[-1])
    return names


def strip_parenthesised_prefix(text):
    """text after its leading "( ... )" group."""
    depth = 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[i + 1:]
    return text


def typedef_names():
    names = set(TEMPLATE_TYPES)
    for root in header_dirs():
        paths = [root] if os.path.isfile(root) else [
            os.path.join(d, f) for d, _, fs in os.walk(root)
            for f in fs if f.endswith((".h", ".c"))]
        for path in paths:
            with open(path, encoding="utf-8", errors="replace") as f:
                for statement in typedef_statements(f.read()):
                    names.update(declared_names(statement))
    return sorted(names)


def repair(text):
    """The indenter's output with pgindent's repairs."""
    # "void\t   *" alone on a line (a definition's return type): one space
    text = re.sub(r"^([A-Za-z_]\w*)[ \t]+\*$", r"\1 *", text, flags=re.M)
    # a prototype the indenter broke after its return type (it takes the
    # trailing pg_attribute_printf for a definition's start): one line again
    text = re.sub(r"^((?:static |extern )?[A-Za-z_][\w \t*]*[\w*])\n[ \t]+([A-Za-z_]\w*\((?:.*,\n)*.*\)[^;{\n]*;)$",
                  lambda m: m.group(1) + ("" if m.group(1).endswith("*") else " ") + m.group(2),
                  text, flags=re.M)
    return text


def indent_one(path, typedefs):
    """The file's text as the indenter and the repairs lay it out."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.c")
        proc = subprocess.run(["pg_bsd_indent"] + SWITCHES + ["-U" + typedefs, path, out],
                              capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            raise RuntimeError("%s: pg_bsd_indent: %s" % (path, proc.stderr.strip()))
        with open(out, encoding="utf-8") as f:
            return repair(f.read())


def tracked_sources():
    try:
        out = subprocess.run(["git", "ls-files", "src/*.c", "src/*.h"], cwd=TOP,
                             capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    if not out:             # a copy of the tree without .git
        out = sorted(os.path.relpath(os.path.join(d, f), TOP)
                     for d, _, fs in os.walk(os.path.join(TOP, "src"))
                     for f in fs if f.endswith((".c", ".h")))
    return out


def main(argv):
    check = "--check" in argv
    files = [a for a in argv if not a.startswith("--")]
    if "--typedefs" in argv:
        print("\n".join(typedef_names()))
        return 0
    if shutil.which("pg_bsd_indent") is None:
        print("pg_bsd_indent is not installed (Debian package pg-bsd-indent)", file=sys.stderr)
        return 2
    files = files or tracked_sources()
    changed = 0
    with tempfile.NamedTemporaryFile("w", suffix=".list") as td:
        td.write("\n".join(typedef_names()) + "\n")
        td.flush()
        for rel in files:
            path = os.path.join(TOP, rel)
            with open(path, encoding="utf-8") as f:
                before = f.read()
            try:
                after = indent_one(path, td.name)
            except RuntimeError as e:
                print(e, file=sys.stderr)
                changed += 1
                continue
            if after == before:
                continue
            changed += 1
            if check:
                sys.stdout.writelines(difflib.unified_diff(
                    before.splitlines(True), after.splitlines(True), rel, rel + " (indented)"))
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(after)
    if check and changed:
        print("%d file(s) not laid out as pgindent would: python3 test/indent.py" % changed,
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
