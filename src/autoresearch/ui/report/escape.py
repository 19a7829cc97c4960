"""One escaping function per output format, for text a candidate or an LLM wrote.

Rationales, strategies, failure reasons, feedback, diffs, lessons and an LLM's prose are written by code
that wants its result to look good; every writer of a format passes such text through this module so
that it is shown as text and never acts: no spreadsheet formula (CSV/TSV), no raw HTML, link, image or
autolink (Markdown), no command (LaTeX: report/note.py's `escape`), no terminal control sequence (the
command line's output). HTML uses `html.escape`; JSON and JSONL are safe by construction.
"""

from __future__ import annotations

import html
import re

# -- CSV / TSV (OWASP's CSV injection advice) ------------------------------------------------------

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and carriage return,
# shifts what follows into one); Excel and LibreOffice also skip leading blanks before deciding.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def spreadsheet_cell(value: object) -> object:
    """VALUE as a CSV/TSV cell a spreadsheet shows as written: a text cell that a spreadsheet would read as
    a formula gets a leading apostrophe; numbers (and text that is exactly a number, like "-0.25") stay."""
    if not isinstance(value, str):
        return value
    if value.lstrip(" ").startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value.strip()):
        return "'" + value
    return value


# -- Markdown ----------------------------------------------------------------------------------------


def md_code(text: object) -> str:
    """TEXT, verbatim on one line, as an inline code span: nothing in it renders as HTML, a link, an image
    or an autolink. The fence is one backtick longer than the longest run of backticks inside."""
    flat = " ".join(str(text).split())
    if not flat:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def md_fence(text: str, info: str = "text") -> list[str]:
    """TEXT as the lines of a fenced code block whose fence no line of TEXT can close."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return [f"{fence}{info}", text.rstrip("\n"), fence]


# A bare URL or e-mail address, which GitHub's Markdown links without brackets.
_AUTOLINK = re.compile(r"(?:[a-z][\w+.-]*://|(?:mailto|xmpp):|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)
# What starts a heading or a list item at the start of a line (the marker's last character gets escaped).
_BLOCK_START = re.compile(r"(?:#{1,6}|[-+*]|\d{1,9}[.)])(?=\s|$)")
# Our own inline Markdown: code spans (whatever the fence) and **bold**.
_OWN_INLINE = re.compile(r"(`+)(?:(?!\1).)+?\1(?!`)|\*\*[^*`]+\*\*")


def _plain(text: str) -> str:
    """Text outside our code spans: HTML and link syntax shown as characters, bare URLs as code."""
    out = []
    last = 0
    for match in _AUTOLINK.finditer(text):
        out.append(_punctuation(text[last : match.start()]))
        out.append(md_code(match.group(0)))
        last = match.end()
    out.append(_punctuation(text[last:]))
    return "".join(out)


def _punctuation(text: str) -> str:
    text = html.escape(text, quote=False)  # &, <, >: no tag, no entity, no <autolink>
    return re.sub(r"([\\`\[\]])", r"\\\1", text)  # no link or image ([...](...)), no stray code span


def md_text(text: object) -> str:
    """TEXT (prose: ours, or an LLM's) for Markdown. `code` spans and **bold** stay; everything else is
    shown as written: raw HTML, links, images and autolinks become text, and a leading `#`, `-`, `+`,
    `*` or `1.` does not start a heading or a list (a `>` is already `&gt;`)."""
    rendered = md_inline(text)
    marker = _BLOCK_START.match(rendered)
    return rendered[: marker.end() - 1] + "\\" + rendered[marker.end() - 1 :] if marker else rendered


def md_inline(text: object) -> str:
    """md_text inside a line we started (a table cell, after a bullet): no block can start there."""
    text = str(text)
    out = []
    last = 0
    for match in _OWN_INLINE.finditer(text):
        out.append(_plain(text[last : match.start()]))
        own = match.group(0)
        out.append("**" + _plain(own[2:-2]) + "**" if own.startswith("**") else own)
        last = match.end()
    out.append(_plain(text[last:]))
    return "".join(out)


def md_cell(text: object) -> str:
    """md_text for a table cell: one line, pipes escaped (GitHub unescapes them inside code spans too)."""
    return md_inline(" ".join(str(text).split())).replace("|", "\\|")


def md_code_cell(text: object) -> str:
    """md_code for a table cell."""
    return md_code(text).replace("|", "\\|")


# -- the terminal ------------------------------------------------------------------------------------

# C0 controls but tab and newline, DEL and C1 controls: ESC starts colour, cursor, title and hyperlink
# sequences (and C1's CSI/OSC do the same in one byte); a backspace rubs out what a line showed.
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    """TEXT as a terminal shows it literally: each control character becomes a visible `\\xNN`, so no
    sequence in a rationale, a reason or a log tail moves the cursor, recolours, retitles or hides
    what follows; a carriage return (a progress bar redrawing its line) becomes a newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
