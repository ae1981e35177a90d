"""Small parsers for the host files segmatte shapes writes, written for the tests.

- :func:`parse_lua_table`: Fusion's ``.setting`` syntax — Lua table
  constructors, ``Name { … }`` typed tables (``Input { … }``,
  ``Polyline { … }``, ``ordered() { … }``), ``[key] = value`` and
  ``name = value`` fields, strings, numbers, booleans.
- :func:`parse_tcl`: Nuke's ``.nk`` nesting — words, quoted strings and
  ``{ … }`` groups, as nested lists.
- :func:`nuke_float`: Nuke's ``x42c80000`` hex float spelling.

Both raise ValueError on anything unbalanced or unexpected, so a test that
parses a file also checks that it is well formed.
"""

from __future__ import annotations

import re
import struct

_LUA_TOKEN = re.compile(r'\s*(?:(--[^\n]*)|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)'
                        r'|([A-Za-z_][A-Za-z_0-9]*)|(\(\))|([{}\[\]=,;]))')


class Typed(dict):
    """A table written ``Name { … }``; ``.type`` is the name."""

    type: str = ""


def _lua_tokens(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _LUA_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected text at {pos}: {text[pos:pos + 30]!r}")
        pos = m.end()
        comment, string, number, name, call, punct = m.groups()
        if comment:
            continue
        if string is not None:
            out.append(("str", bytes(string[1:-1], "utf-8").decode("unicode_escape")))
        elif number is not None:
            out.append(("num", number))
        elif name is not None:
            out.append(("name", name))
        elif call is not None:
            out.append(("call", call))
        elif punct is not None:
            out.append(("p", punct))
    return out


def parse_lua_table(text: str):
    """The value of a ``.setting`` file: dicts for tables (positional items under 1, 2, …)."""
    toks = _lua_tokens(text)
    try:
        value, i = _lua_value(toks, 0)
    except IndexError:
        raise ValueError("the table ends before it is closed") from None
    if i != len(toks):
        raise ValueError(f"trailing tokens after the table: {toks[i:i + 5]}")
    return value


def _lua_value(toks, i):
    kind, v = toks[i]
    if kind == "str":
        return v, i + 1
    if kind == "num":
        return (float(v) if any(c in v for c in ".eE") else int(v)), i + 1
    if kind == "name":
        if v in ("true", "false"):
            return v == "true", i + 1
        if v == "nil":
            return None, i + 1
        j = i + 1
        if j < len(toks) and toks[j] == ("call", "()"):
            j += 1
        if j < len(toks) and toks[j] == ("p", "{"):
            table, j = _lua_table(toks, j)
            typed = Typed(table)
            typed.type = v
            return typed, j
        raise ValueError(f"a bare name {v!r} is not a value")
    if (kind, v) == ("p", "{"):
        return _lua_table(toks, i)
    raise ValueError(f"unexpected token {v!r}")


def _lua_table(toks, i):
    assert toks[i] == ("p", "{")
    i += 1
    out: dict = {}
    n = 1
    while True:
        if toks[i] == ("p", "}"):
            return out, i + 1
        if toks[i] == ("p", "["):
            key, i = _lua_value(toks, i + 1)
            if toks[i] != ("p", "]") or toks[i + 1] != ("p", "="):
                raise ValueError("expected ] = after a [key]")
            value, i = _lua_value(toks, i + 2)
        elif toks[i][0] == "name" and toks[i + 1] == ("p", "="):
            key = toks[i][1]
            value, i = _lua_value(toks, i + 2)
        else:
            key, n = n, n + 1
            value, i = _lua_value(toks, i)
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
        if toks[i] in (("p", ","), ("p", ";")):
            i += 1
        elif toks[i] != ("p", "}"):
            raise ValueError(f"expected , or }} after a field, got {toks[i]}")


def parse_tcl(text: str) -> list:
    """Words and ``{…}`` groups of a Nuke script as nested lists (comments dropped)."""
    stack: list[list] = [[]]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#" and (i == 0 or text[i - 1] == "\n"):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif c.isspace():
            i += 1
        elif c == "{":
            stack.append([])
            i += 1
        elif c == "}":
            if len(stack) == 1:
                raise ValueError(f"unbalanced }} at {i}")
            done = stack.pop()
            stack[-1].append(done)
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise ValueError("unterminated string")
            stack[-1].append(text[i + 1:j])
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{}":
                j += 1
            stack[-1].append(text[i:j])
            i = j
    if len(stack) != 1:
        raise ValueError(f"{len(stack) - 1} unclosed {{")
    return stack[0]


def nuke_float(word: str) -> float:
    if word == "0":
        return 0.0
    if not word.startswith("x"):
        return float(word)
    return struct.unpack(">f", bytes.fromhex(word[1:]))[0]
