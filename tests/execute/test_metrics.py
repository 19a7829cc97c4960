from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoresearch.execute.metrics import measure, objectives_unreadable, parse_metric_lines


def test_all_line_formats_later_wins() -> None:
    text = "step 1\nval_loss: 0.9\nMETRIC val_bpb=1.25\nacc=0.5\nval_loss: 0.31\nnoise: abc\n  peak_vram_mb:  1024\n"
    assert parse_metric_lines(text) == {"val_loss": 0.31, "val_bpb": 1.25, "acc": 0.5, "peak_vram_mb": 1024.0}


def test_scientific_and_signed_numbers() -> None:
    assert parse_metric_lines("a: -1.5e-3\nb=+2E2\nc: .5") == {"a": -1.5e-3, "b": 200.0, "c": 0.5}


def test_regex_takes_last_match() -> None:
    result = measure("loss 0.9\nloss 0.4\n", metric="loss", pattern=r"loss ([0-9.]+)")
    assert result.objective == 0.4 and result.error is None


def test_json_file(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "m.json").write_text(json.dumps({"eval": {"loss": 0.25}, "tokens": 7}))
    result = measure("", metric="loss", json_file="out/m.json:eval.loss", cwd=tmp_path)
    assert result.objective == 0.25 and result.metrics["tokens"] == 7
    missing = measure("", metric="loss", json_file="out/none.json:loss", cwd=tmp_path)
    assert missing.objective is None and "was not written" in (missing.error or "")


def test_objective_expression() -> None:
    result = measure("latency: 2\nviolations: 3\n", metric="latency", objective="latency + 1000 * violations")
    assert result.objective == 3002


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("loss: nan\n", "objective is nan"),
        ("loss: inf\n", "objective is inf"),
        ("accuracy: 0.3\n", "metric loss not found in the output (found: accuracy)"),
        ("", "found: none"),
    ],
)
def test_unusable_values_are_errors(output: str, reason: str) -> None:
    result = measure(output, metric="loss")
    assert result.objective is None and reason in (result.error or "")


def test_division_by_zero_is_an_error() -> None:
    result = measure("a: 1\nb: 0\n", metric="a", objective="a / b")
    assert result.objective is None and "could not be computed" in (result.error or "")


# -- a metric that cannot be read unambiguously fails the run -------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        "loss: 0.1\n\x00loss: 2.0\n",  # the true line corrupted by a stray byte, a fake beside it
        "loss: 0.1\nloss: 2.O\n",  # a value that does not parse
        "** loss: 2.0 **\nloss: 0.1\n",  # a line that starts like one but carries more
        "METRIC loss=0.1\nloss: 0.5 (best)\n",
    ],
)
def test_a_line_that_starts_like_the_metric_but_does_not_parse_fails(output: str) -> None:
    result = measure(output, metric="loss")
    assert result.objective is None and result.error is not None
    assert result.error.startswith("metric unreadable:") and "name: number" in result.error


def test_other_names_and_prose_are_not_ambiguous() -> None:
    output = "train loss: 9\nval_loss: 8\nLOSS: 7 x\nlossy: 6 x\nnotes: loss: 5\nloss: 0.25\n"
    assert measure(output, metric="loss").objective == 0.25
    # the objective's names are the ones checked
    assert measure("a: 1\nb: 2 apples\n", metric="x", objective="a * 2").objective == 2.0
    assert measure("a: 1\nb: 2 apples\n", metric="x", objective="a + b").error is not None


def test_output_cut_by_the_log_cap_fails_unless_the_metric_is_in_a_file(tmp_path: Path) -> None:
    result = measure("[... autoresearch dropped 10 bytes ...]\nloss: 0.1\n", metric="loss", cut=10)
    assert result.objective is None and result.error is not None
    assert "metric unreadable" in result.error and "run.max_log_size" in result.error
    (tmp_path / "m.json").write_text('{"loss": 0.5}')
    assert measure("...", metric="loss", json_file="m.json:loss", cwd=tmp_path, cut=10).objective == 0.5


def test_a_metrics_file_over_the_cap_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"loss": 0.5, "pad": "' + "x" * 5000 + '"}')
    result = measure("", metric="loss", json_file="m.json:loss", cwd=tmp_path, max_bytes=4096)
    assert result.objective is None and result.error is not None
    assert "m.json is over 4096 bytes" in result.error and "run.max_log_size" in result.error
    assert measure("", metric="loss", json_file="m.json:loss", cwd=tmp_path, max_bytes=8192).objective == 0.5


def test_several_objectives_must_each_be_printed_readably() -> None:
    names = ["time_ms", "accuracy"]
    output = "time_ms: 3.5\naccuracy: 0.9\n"
    assert objectives_unreadable(output, parse_metric_lines(output), names) is None
    missing = "time_ms: 3.5\n"
    assert objectives_unreadable(missing, parse_metric_lines(missing), names) == (
        "objective accuracy not found in the output (found: time_ms); print it as `accuracy: <number>`"
    )
    infinite = "time_ms: 3.5\naccuracy: inf\n"
    assert objectives_unreadable(infinite, parse_metric_lines(infinite), names) == "objective accuracy is inf"
    corrupted = "time_ms: 3.5\naccuracy: 0.9\n\x1baccuracy: 0.99 (best)\n"  # a line that starts like one but is not
    why = objectives_unreadable(corrupted, parse_metric_lines(corrupted), names)
    assert why is not None and why.startswith("metric unreadable:") and "0.99 (best)" in why
