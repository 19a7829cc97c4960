"""A research note as a list of blocks, rendered to Markdown or to LaTeX from the same blocks.

Inline text uses a small subset of Markdown: `code` (text quoted from the store, verbatim) and
**bold**; LaTeX gets the same with its special characters escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autoresearch.ui.report.escape import md_cell, md_inline, md_text


@dataclass
class Block:
    kind: str  # heading, paragraph, bullets, table, figure, quote, note
    text: str = ""
    items: list[str] = field(default_factory=list)  # bullets; a table's header
    rows: list[list[str]] = field(default_factory=list)  # a table's rows
    level: int = 2  # a heading's level


def heading(text: str, level: int = 2) -> Block:
    return Block("heading", text, level=level)


def paragraph(text: str) -> Block:
    return Block("paragraph", text)


def bullets(items: list[str]) -> Block:
    return Block("bullets", items=items)


def table(header: list[str], rows: list[list[str]]) -> Block:
    return Block("table", items=header, rows=rows)


def figure(path: str, caption: str) -> Block:
    return Block("figure", path, items=[caption])


def quote(text: str) -> Block:
    return Block("quote", text)


def code(text: str) -> str:
    """TEXT as one inline code span (backticks inside become quotes; one line)."""
    flat = " ".join(text.replace("`", "'").split())
    return f"`{flat}`" if flat else ""


# -- Markdown ---------------------------------------------------------------------------------------


def to_markdown(title: str, blocks: list[Block]) -> str:
    """The note as Markdown. Every text passes through report/escape.py: our `code` spans and **bold**
    stay, and no HTML, link or image in an LLM's prose or the store's text can act."""
    out = [f"# {md_inline(title)}", ""]
    for b in blocks:
        if b.kind == "heading":
            out += ["#" * b.level + " " + md_inline(b.text), ""]
        elif b.kind in ("paragraph", "note"):
            out += [md_text(" ".join(b.text.split())), ""]
        elif b.kind == "bullets":
            out += [f"- {md_inline(' '.join(item.split()))}" for item in b.items] + [""]
        elif b.kind == "table":
            out.append("| " + " | ".join(md_cell(h) for h in b.items) + " |")
            out.append("|" + " --- |" * len(b.items))
            out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif b.kind == "figure":
            caption = md_inline(" ".join(b.items[0].split()))
            out += [f"![{caption}]({b.text})", "", f"*{caption}*", ""]
        elif b.kind == "quote":
            out += ["> " + md_text(line) if line.strip() else ">" for line in b.text.strip().splitlines()] + [""]
    return "\n".join(out).rstrip() + "\n"


# -- LaTeX ------------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # Characters pdflatex's utf8 input does not know, which rationales and reasons often hold.
    "→": r"$\rightarrow$",
    "←": r"$\leftarrow$",
    "—": "---",
    "–": "--",
    "…": r"\ldots{}",
    "−": "-",
    "Δ": r"$\Delta$",
    "±": r"$\pm$",
    "×": r"$\times$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "≈": r"$\approx$",
}


def escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _inline(text: str) -> str:
    """The Markdown subset (`code`, **bold**) as LaTeX, everything else escaped."""
    parts = re.split(r"(`[^`]*`|\*\*[^*]+\*\*)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(r"\texttt{" + escape(part[1:-1]) + "}")
        elif part.startswith("**") and part.endswith("**") and len(part) >= 4:
            out.append(r"\textbf{" + escape(part[2:-2]) + "}")
        else:
            out.append(escape(part))
    return "".join(out)


def to_latex(title: str, blocks: list[Block]) -> str:
    out = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage[margin=2.2cm]{geometry}",
        r"\usepackage{graphicx}",
        r"\usepackage{booktabs}",
        r"\usepackage{longtable}",
        r"\usepackage{array}",
        r"\title{" + escape(title) + "}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        "",
    ]
    commands = {1: "section*", 2: "section", 3: "subsection"}
    for b in blocks:
        if b.kind == "heading":
            out += [f"\\{commands.get(b.level, 'subsection')}{{{escape(b.text)}}}", ""]
        elif b.kind in ("paragraph", "note"):
            out += [_inline(b.text), ""]
        elif b.kind == "bullets":
            out.append(r"\begin{itemize}")
            out += [r"\item " + _inline(item) for item in b.items]
            out += [r"\end{itemize}", ""]
        elif b.kind == "table":
            # The last column holds words (rationales, reasons): it wraps, the others stay narrow.
            spec = "l" * (len(b.items) - 1) + ">{\\raggedright\\arraybackslash}p{6cm}"
            out += [f"\\begin{{longtable}}{{{spec}}}", r"\toprule"]
            out.append(" & ".join(_inline(h) for h in b.items) + r" \\")
            out.append(r"\midrule")
            out += [" & ".join(_inline(" ".join(c.split())) for c in row) + r" \\" for row in b.rows]
            out += [r"\bottomrule", r"\end{longtable}", ""]
        elif b.kind == "figure":
            out += [
                r"\begin{figure}[h]",
                r"\centering",
                r"\includegraphics[width=\linewidth]{" + b.text + "}",
                r"\caption{" + _inline(b.items[0]) + "}",
                r"\end{figure}",
                "",
            ]
        elif b.kind == "quote":
            body = "\n\n".join(_inline(p.replace("\n", " ")) for p in re.split(r"\n\s*\n", b.text.strip()))
            out += [r"\begin{quote}", body, r"\end{quote}", ""]
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"
