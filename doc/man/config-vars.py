#!/usr/bin/python3
"""Writes the VARIABLES section of ceirgw.conf(5) from the table ceirgw itself reads its
configuration with: the vars[] rows of src/core/config.c (VAR, INT, RATE and ALLOW), so the
page lists every variable with its default and meaning and cannot drift from the program.

    config-vars.py [-D NAME=VALUE]... src/core/config.c TEMPLATE >PAGE

TEMPLATE is the page with a line @VARIABLES@ where the rows go; -D gives the value of a
macro a default is written with (CEIRGW_REDIS_SERVER). A row it cannot read is an error
naming its line, so a change to the table's shape stops the build instead of dropping a
variable from the page."""
import re
import sys

# What a value of each type looks like, for the synopsis of a row. A new type reads VALUE.
TYPES = {
    "CT_HOSTPORT": "ADDR:PORT",
    "CT_REDIS": "URL",
    "CT_CLUSTER": "HOST:PORT[,HOST:PORT...]",
    "CT_PATH": "PATH",
    "CT_REGION": "CC",
    "CT_LEVEL": "LEVEL",
    "CT_IDENTITY": "imsi|msisdn",
    "CT_WORD": "WORD",
    "CT_RATE": "HITS/SECONDS",
    "CT_URL": "URL",
    "CT_SECRET": "TEXT",
    "CT_OPS": "N[,N...]",
    "CT_OP": "N",
    "CT_TLVTYPE": "octetstring|integer",
    "CT_ALLOW": "ADDR[;ADDR...]",
    "CT_VERIFY": "id|otp|id+otp",
}
# The argument list of each row macro: which argument is the name, type, default, help.
MACROS = {
    "VAR": ("name", "type", "field", "default", "help"),
    "INT": ("name", "field", "default", "min", "max", "help"),
    "RATE": ("name", "field", "default", "help"),
    "ALLOW": ("name", "field", "default", "help"),
}
TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<word>[A-Za-z_][A-Za-z_0-9]*)'
                   r'|(?P<num>-?[0-9]+)|(?P<punct>[(),{}]))', re.S)


def fail(msg):
    sys.exit("config-vars.py: " + msg)


def unquote(s):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)),
                  s[1:-1])


def rows(src, path, defines):
    start = src.find("static const struct config_var vars[] = {")
    if start < 0:
        fail(f"{path}: no 'static const struct config_var vars[] = {{' table")
    end = src.find("\n};", start)
    body_at = src.index("{", start + len("static const struct config_var vars[] =")) + 1
    body = src[body_at:end]
    # Comments become blanks of the same length, so that offsets still give line numbers.
    body = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), body, flags=re.S)
    pos = 0
    while True:
        m = TOKEN.match(body, pos)
        if m is None or m.end() == pos:
            if body[pos:].strip():
                fail(f"{path}:{src.count(chr(10), 0, body_at + pos) + 1}: cannot read the "
                     "variable table here")
            return
        lineno = src.count("\n", 0, body_at + m.start()) + 1
        macro = m.group("word")
        if macro not in MACROS:
            fail(f"{path}:{lineno}: a row of vars[] that is not VAR, INT, RATE or ALLOW: "
                 f"{m.group(0).strip()} (teach doc/man/config-vars.py its arguments)")
        pos = m.end()
        m = TOKEN.match(body, pos)
        if m is None or m.group("punct") != "(":
            fail(f"{path}:{lineno}: {macro} without its arguments")
        pos = m.end()
        args, cur, depth = [], [], 0
        while True:
            m = TOKEN.match(body, pos)
            if m is None:
                fail(f"{path}:{lineno}: {macro}( not closed")
            pos = m.end()
            p = m.group("punct")
            if p == "(":
                depth += 1
            elif p == ")" and depth:
                depth -= 1
            elif p == ")" or (p == "," and depth == 0):
                args.append(cur)
                cur = []
                if p == ")":
                    break
                continue
            cur.append(m)
        m = TOKEN.match(body, pos)
        if m is not None and m.group("punct") == ",":
            pos = m.end()
        names = MACROS[macro]
        if len(args) != len(names):
            fail(f"{path}:{lineno}: {macro} with {len(args)} arguments, not {len(names)}")
        row = {"macro": macro}
        for key, toks in zip(names, args):
            if toks and all(t.group("str") for t in toks):
                row[key] = "".join(unquote(t.group("str")) for t in toks)
            elif len(toks) == 1 and toks[0].group("word") == "NULL":
                row[key] = None
            elif len(toks) == 1 and toks[0].group("word") and key == "default":
                w = toks[0].group("word")
                if w not in defines:
                    fail(f"{path}:{lineno}: default {w}: give its value with -D {w}=VALUE")
                row[key] = defines[w]
            elif len(toks) == 1:
                row[key] = toks[0].group(0).strip()
            else:
                fail(f"{path}:{lineno}: cannot read argument {key} of {macro}")
        if not isinstance(row.get("name"), str) or not isinstance(row.get("help"), str):
            fail(f"{path}:{lineno}: {macro} without a quoted name and help text")
        yield row


def roff(text, literal=False):
    """Text for a roff line: backslashes escaped, a leading dot or quote defused, and with
    literal (names, values to type) every '-' a real minus sign for copy and paste."""
    text = text.replace("\\", "\\e")
    if literal:
        text = text.replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def entry(row):
    if row["macro"] == "INT":
        value = f"N ({row['min']} to {row['max']})"
    elif row["macro"] == "RATE":
        value = TYPES["CT_RATE"]
    elif row["macro"] == "ALLOW":
        value = TYPES["CT_ALLOW"]
    else:
        value = TYPES.get(row["type"], "VALUE")
    if row["default"] is None:
        default = "unset"
    else:
        default = "\\fB" + roff(row["default"], literal=True) + "\\fR"
    help_text = row["help"]
    if not help_text.endswith("."):
        help_text += "."
    return (".TP\n"
            f"\\fB{roff(row['name'], literal=True)}\\fR = \\fI{roff(value)}\\fR\n"
            f"{roff(help_text)}\n"
            f"Default: {default}.\n")


def main(argv):
    defines = {}
    args = argv[1:]
    while args and args[0] == "-D":
        if len(args) < 2 or "=" not in args[1]:
            fail("usage: -D NAME=VALUE")
        k, v = args[1].split("=", 1)
        defines[k] = v
        args = args[2:]
    if len(args) != 2:
        fail("usage: config-vars.py [-D NAME=VALUE]... src/core/config.c TEMPLATE")
    with open(args[0], encoding="utf-8") as f:
        table = list(rows(f.read(), args[0], defines))
    if len(table) < 10:
        fail(f"{args[0]}: only {len(table)} variables read from vars[]")
    seen = set()
    for row in table:
        if row["name"] in seen:
            fail(f"{args[0]}: {row['name']} twice in vars[]")
        seen.add(row["name"])
    with open(args[1], encoding="utf-8") as f:
        template = f.read()
    if template.count("\n@VARIABLES@\n") != 1:
        fail(f"{args[1]}: no line @VARIABLES@ (or more than one)")
    out = template.replace("\n@VARIABLES@\n", "\n" + "".join(entry(r) for r in table))
    sys.stdout.write(out)


if __name__ == "__main__":
    main(sys.argv)
