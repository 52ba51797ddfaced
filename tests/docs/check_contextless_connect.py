#!/usr/bin/env python3
"""Fails on a context-less QObject::connect: connect(sender, signal, functor) with no receiver.

Such a connection outlives whatever the functor captures and runs it on the sender's thread.
QT_NO_CONTEXTLESS_CONNECT forbids it from Qt 6.7 on; Qt 6.4, which this project builds with,
does not know the macro, so this check reads the sources instead. A call counts as context-less
when it has exactly three top-level arguments and the third is not a SLOT()/SIGNAL() string
(the string form connects to `this`). Usage: check_contextless_connect.py DIR_OR_FILE...
"""
import os
import re
import sys

CALL = re.compile(r"\bconnect\s*\(")
OPEN, CLOSE = "([{", ")]}"


def strip_comments_and_strings(text):
    # Blanks comments and literals but keeps the line structure, so line numbers stay right.
    pattern = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)

    def blank(m):
        s = m.group(0)
        if s.startswith('"'):
            return '""'
        return re.sub(r"[^\n]", " ", s)

    return pattern.sub(blank, text)


def arguments(text, start):
    """Top-level arguments of the call whose '(' is at text[start], or None if unbalanced."""
    depth, args, current = 0, [], []
    i = start
    while i < len(text):
        c = text[i]
        if c in OPEN:
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c in CLOSE:
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return args
        elif c == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    return None


def check(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    text = strip_comments_and_strings(raw)
    problems = []
    for m in CALL.finditer(text):
        before = text[max(0, m.start() - 9):m.start()]
        if before.endswith("::") and not before.endswith("QObject::"):
            continue  # another class's connect
        args = arguments(text, m.end() - 1)
        if args is None or len(args) != 3:
            continue
        if args[2].startswith(("SLOT", "SIGNAL")):
            continue
        line = text.count("\n", 0, m.start()) + 1
        problems.append("%s:%d: context-less connect (give it a receiver or context object)" % (path, line))
    return problems


def main(dirs):
    problems = []
    for top in dirs:
        if os.path.isfile(top):
            problems += check(top)
        for root, _, files in os.walk(top):
            for name in sorted(files):
                if name.endswith((".cpp", ".h")):
                    problems += check(os.path.join(root, name))
    for p in problems:
        print(p)
    if problems:
        return 1
    print("check_contextless_connect: every connect has a receiver or context object")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
