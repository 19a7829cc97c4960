"""Feedback text, metric curves and log tails: bounded, never through a link, never holdout-named."""

from __future__ import annotations

import os
from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.execute import feedback
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import PYTHON, write_study

NO_HOLDOUT = feedback.Redactor(None)


def test_feedback_lines_are_found_in_order_and_holdout_lines_dropped() -> None:
    output = "feedback: first\nloss: 1\n  FEEDBACK : second\nfeedback:\nfeedback: test_acc 0.9\nfeedback: holdout 1\n"
    assert feedback.feedback_lines(output, feedback.Redactor("test_acc")) == ["first", "second"]


def test_feedback_is_capped_keeping_the_first_lines() -> None:
    text = feedback.join_feedback([("run", [f"line {i} " + "x" * 50 for i in range(200)])])
    assert len(text) <= feedback.FEEDBACK_CHARS
    assert text.startswith("line 0 ") and text.endswith("[...truncated]")
    both = feedback.join_feedback([("run", ["a"]), ("scorer", ["b"]), ("none", [])])
    assert both == "[run]\na\n[scorer]\nb"


def test_curves_are_downsampled_and_bounded() -> None:
    lines = [f"loss: {1000 - i}\nacc={i / 1000}" for i in range(1000)]
    lines += [f"m{k}: {v}" for k in range(10) for v in range(3)]
    curves = feedback.metric_series("\n".join(lines) + "\nonce: 1\ntwice: 1\ntwice: 2\n", NO_HOLDOUT)
    assert set(curves) <= {"loss", "acc", *(f"m{k}" for k in range(10))}
    assert len(curves) == feedback.SERIES_METRICS
    loss = curves["loss"]
    assert loss["n"] == 1000 and len(loss["values"]) == feedback.SERIES_POINTS
    assert loss["values"][0] == 1000 and loss["values"][-1] == 1 and loss["min"] == 1 and loss["argmin"] == 1.0
    summary = feedback.summarise_curve("loss", loss)
    assert summary.startswith("loss: 1000 values, start 1000, min 1 (at 100%), end 1, still falling at the end; █")
    assert "holdout_x" not in feedback.metric_series("holdout_x: 1\n" * 5, NO_HOLDOUT)


def test_a_linked_feedback_file_or_log_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT\n")
    out = tmp_path / "exp" / "output"
    out.mkdir(parents=True)
    os.symlink(secret, out / "feedback.txt")
    assert feedback.read_feedback_file(out, tmp_path, NO_HOLDOUT) == []
    os.symlink(secret, tmp_path / "exp" / "stdout.log")
    (tmp_path / "exp" / "stderr.log").write_text("real error line\n")
    assert feedback.log_tail(tmp_path / "exp", tmp_path, 500, NO_HOLDOUT) == "--- stderr.log ---\nreal error line"
    linked = tmp_path / "linked"
    os.symlink(tmp_path / "exp", linked)  # a linked experiment folder: nothing is read through it
    assert feedback.log_tail(linked, tmp_path, 500, NO_HOLDOUT) == ""


def test_log_tail_is_bounded_and_starts_at_a_line(tmp_path: Path) -> None:
    (tmp_path / "stdout.log").write_text("".join(f"line {i}\n" for i in range(10_000)))
    tail = feedback.log_tail(tmp_path, tmp_path, 300, NO_HOLDOUT)
    assert len(tail) <= 300 + len("--- stdout.log ---\n")
    assert tail.splitlines()[1].startswith("line ") and tail.endswith("line 9999")


def test_only_the_scorers_feedback_lines_pass_never_its_other_output(tmp_path: Path) -> None:
    score = (
        "import os, sys\n"
        "labels = open('hidden/labels.txt').read().strip()\n"
        "print('labels are', labels)\n"  # hidden data in the scorer's output: never shown to proposers
        "p = float(open(os.path.join(sys.argv[1], 'p.txt')).read())\n"
        "print('feedback: off by', round(abs(p - 3), 2))\n"
        "print('loss:', abs(p - 3))\n"
    )
    exp = (
        "import json, os, sys\n"
        "x = json.load(open(sys.argv[1]))['x']\n"
        "open(os.path.join(os.environ['AUTORESEARCH_OUTPUT_DIR'], 'p.txt'), 'w').write(str(x))\n"
        "print('feedback: wrote', x)\n"
    )
    root = write_study(
        tmp_path / "s",
        f"""
        [study]
        name = "s"
        [run]
        command = "{PYTHON} exp.py {{params_file}}"
        [metric]
        name = "loss"
        [scorer]
        command = "{PYTHON} score.py {{output_dir}}"
        data = ["hidden"]
        [params]
        x = {{ low = 0.0, high = 10.0, default = 5.0 }}
        [proposer]
        use = "random"
        [budget]
        experiments = 1
        """,
        {"exp.py": exp, "score.py": score, "hidden/labels.txt": "HIDDEN-LABELS\n"},
    )
    Loop(load_spec(root)).run()
    (baseline,) = Store(root / ".autoresearch" / "s").experiments()
    assert baseline.objective == 2.0
    assert baseline.extra["feedback"] == "[run]\nwrote 5.0\n[scorer]\noff by 2.0"


def test_top_entries_keep_cprofiles_table_head_or_the_last_lines() -> None:
    output = "program output\n  120 function calls in 0.5 seconds\n\n   Ordered by: cumulative time\n\n"
    output += "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)\n"
    output += "".join(f"        1    0.00{i}    0.001    0.500    0.500 hot.py:{i}(f{i})\n" for i in range(40))
    top = feedback.top_entries(output, 3, 3000)
    assert top.splitlines() == [
        "  120 function calls in 0.5 seconds",
        "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)",
        "        1    0.000    0.001    0.500    0.500 hot.py:0(f0)",
        "        1    0.001    0.001    0.500    0.500 hot.py:1(f1)",
        "        1    0.002    0.001    0.500    0.500 hot.py:2(f2)",
    ]
    other = "\n".join(f"sample {i}" for i in range(100))
    assert feedback.top_entries(other, 2, 3000) == "sample 98\nsample 99"
    assert len(feedback.top_entries(other, 100, 200)) <= 200
