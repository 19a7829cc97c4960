"""report/numbers.py: numbers in prose checked by value, sign and unit, phrasing by phrasing.

Two studies' books: a loss minimised from 10 to 8 (the loss fell 20%, the best is 20% better, 1.25 times
better, and 2 lower; confirmed at +18% with a 95% interval of +10% to +26%), and an accuracy maximised
from 0.80 to 0.84 (4 percentage points, 5% relative). Each has the counts and ids a note states,
including 37, so that "37x" cannot pass as a count.
"""

from __future__ import annotations

import pytest

from autoresearch.ui.report.numbers import NumberBook, tokens


def loss_book() -> NumberBook:
    book = NumberBook()
    book.add(10.0, 8.0, 1, 2, 3, 4, 37, 0.95, {"confirmation": {"improvement": 0.18, "low": 0.1, "high": 0.26}})
    book.add_step(10.0, 8.0, "minimize")
    book.add_gain(0.18, 0.1, 0.26)
    book.add_seconds(30.0, 2.5)
    book.add_metrics({"loss": 8.0, "latency_ms": 120.0})
    return book


def accuracy_book() -> NumberBook:
    book = NumberBook()
    book.add(0.80, 0.84, 1, 2, 3)
    book.add_step(0.80, 0.84, "maximize")
    return book


LOSS_TRUE = [
    "The loss fell by 20%.",
    "The loss fell by 20.0% from 10 to 8.",
    "The best improved by 20% over the baseline.",
    "an improvement of 20%",
    "a gain of about 20%",
    "The loss is 20% lower and the best 20% better.",
    "The loss dropped 20%.",
    "The loss went down by 2, an improvement of 2.",
    "the loss is 2 lower",
    "It is 1.25x better, 1.25× lower in loss, a 1.25-fold improvement.",
    "The loss fell by a factor of 1.25.",
    "The loss is 1.25 times lower.",
    "Re-measured it is +18.0% (95% CI +10.0% to +26.0%).",
    "Of the 4 experiments, 2 were kept; #37 is the latest.",
    "Of the four experiments, two were kept, and three were tried.",
    "Each candidate ran once.",
    "twenty percent better",
    "The timeout was 30 s; a run took 2.5 s (2500 ms), a latency of 120 ms.",
    "The change was -20% in the loss.",
    "Ninety-five percent of the interval.",
]

LOSS_FALSE = [
    # A ratio must be a ratio of the study: 37 is an id, not a factor.
    ("The best is 37x faster.", ["37x"]),
    ("a 37× speedup", ["37×"]),
    ("a 37-fold improvement", ["37-fold"]),
    ("37 times better than the baseline", ["37 times"]),
    ("×37 on the loss", ["37"]),
    ("It improved by a factor of 37.", ["37"]),
    # A wrong sign, written or worded.
    ("The best improved by -20%.", ["-20%"]),
    ("The loss rose by 20%.", ["20%"]),
    ("The loss rose 20%.", ["20%"]),
    ("The best is 20% worse.", ["20%"]),
    ("The best worsened by 20%.", ["20%"]),
    ("The loss is 20% higher.", ["20%"]),
    ("The improvement: -18.0%.", ["-18.0%"]),
    ("It is 1.25x slower.", ["1.25x"]),
    ("the loss is 2 higher", ["2"]),
    # Wrong values, at the precision written.
    ("The loss fell by 25%.", ["25%"]),
    ("an improvement of 20.5%", ["20.5%"]),
    ("It is 1.5x better.", ["1.5x"]),
    # Number words.
    ("thirty-seven percent better", ["thirty-seven percent"]),
    ("Thirty seven per cent of runs.", ["Thirty seven per cent"]),
    ("The best is twice as fast.", ["twice"]),
    ("It doubled the speed.", ["doubled"]),
    ("It halved the loss.", ["halved"]),
    ("a three-fold gain", ["three-fold"]),
    ("Of the twelve experiments, a dozen failed.", ["twelve", "a dozen"]),
    ("a thousand runs", ["a thousand"]),
    # Units: a duration must be one, a percentage of a change a relative change.
    ("A run took 2.5 min.", ["2.5 min"]),
    ("A run took 300 ms.", ["300 ms"]),
    ("The loss fell by 2%.", ["2%"]),
    # Hiding a figure from the checker: glued, invisible, full-width, grouped, without a leading zero.
    ("a speedup of x37", ["37"]),
    ("improved by 3\u200b7%", ["37%"]),
    ("improved by \uff13\uff17%", ["37%"]),
    ("over 1 000 runs", ["1 000"]),
    ("over 1_000 runs", ["1_000"]),
    ("a loss of .37", [".37"]),
    ("37k runs", ["37k"]),
    ("a 37 % gain", ["37 %"]),
]


@pytest.mark.parametrize("text", LOSS_TRUE)
def test_true_statements_pass(text: str) -> None:
    assert loss_book().unknown(text) == [], [(t.text, t.value, t.unit, t.sense, t.change) for t in tokens(text)]


@pytest.mark.parametrize(("text", "rejected"), LOSS_FALSE)
def test_false_or_hidden_figures_are_rejected(text: str, rejected: list[str]) -> None:
    assert loss_book().unknown(text) == rejected, [(t.text, t.value, t.unit, t.sense, t.change) for t in tokens(text)]


@pytest.mark.parametrize(
    ("text", "rejected"),
    [
        ("Accuracy rose by 4 percentage points.", []),
        ("Accuracy improved by 4.0 pp, from 80% to 84%.", []),
        ("Accuracy improved by 5%.", []),
        ("Accuracy rose 5.0%, or 4 percentage points.", []),
        ("Accuracy is 1.05x higher.", []),
        # Percent and percentage points are not the same claim.
        ("Accuracy improved by 4.0%.", ["4.0%"]),
        ("Accuracy rose by 5 percentage points.", ["5 percentage points"]),
        ("Accuracy improved by 5 pp.", ["5 pp"]),
        ("Accuracy fell by 4 percentage points.", ["4 percentage points"]),
        ("Accuracy rose by -5%.", ["-5%"]),
    ],
)
def test_percent_and_percentage_points(text: str, rejected: list[str]) -> None:
    assert accuracy_book().unknown(text) == rejected, [(t.text, t.value, t.unit, t.sense) for t in tokens(text)]


def test_tokens_read_unit_sense_and_sign() -> None:
    def read(text: str) -> list[tuple[str, float, str, int, str]]:
        return [(t.text, t.value, t.unit, t.sense, t.change) for t in tokens(text)]

    assert read("improved by -12%") == [("-12%", -12.0, "%", 1, "better")]
    assert read("the loss fell by about 12%") == [("12%", 12.0, "%", -1, "up")]
    assert read("3 times faster, not 3 times") == [("3 times", 3.0, "x", 1, "better"), ("3", 3.0, "", 0, "")]
    assert read("took 300 ms") == [("300 ms", 0.3, "s", 0, "")]
    assert read("twice as fast; ran twice") == [("twice", 2.0, "x", 0, ""), ("twice", 2.0, "", 0, "")]
    assert read("ResNet-50, fp16, log10, v2 and #3") == [("50", 50.0, "", 0, ""), ("3", 3.0, "", 0, "")]
    assert read("the 2nd of one hundred five") == [("2", 2.0, "", 0, ""), ("one hundred five", 105.0, "", 0, "")]


def test_by_after_another_clause_is_no_change() -> None:
    # "by" far from the change word, after another figure, introduces something else (how it was measured).
    text = "The improvement is +18.0% (95% CI +10.0% to +26.0%), measured by 4 interleaved pairs."
    assert [(t.text, t.sense) for t in tokens(text)][-1] == ("4", 0)
    assert loss_book().unknown(text) == []
