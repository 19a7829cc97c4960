"""Issue #20, classes 4 and 6 and the reaper (class 5): the measurement boundary, the holdout, hostile output.

Each scenario plays a study through the CLI (tests/redteam/scenarios.play) whose candidate or proposer
attacks how its number is read: processes outliving the run to rewrite what is read after it, metric
lines cut or corrupted so that only a fake parses, a faked or probed holdout, outputs too large to read.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.redteam.scenarios import PYTHON, Attack, Played, _marker_alive, play


def _kept_cheat(played: Played) -> str | None:
    kept = [e for e in played.experiments[1:] if e.decision == "kept"]
    return f"a cheating candidate was kept: #{kept[0].id} ({kept[0].objective})" if kept else None


# -- class 4: the measurement boundary ---------------------------------------------------------------


def late_metrics_rewrite(root: Path, kind: str) -> str | None:
    """A multi-step command: the step that counts writes the true metric, a background step (in a new
    session, so that the process-group kill misses it) rewrites the metrics file after the command ended."""
    experiment = """
        import json, os, subprocess, sys
        cheat = int(sys.argv[1])
        json.dump({"loss": 1.0}, open("metrics.json", "w"))
        # It rewrites only once the command's process is gone: on a loaded machine it could otherwise
        # write while the command still runs (the command's own output, not a late rewrite).
        late = "import json, os, sys, time\\nwhile True:\\n"
        late += "    try:\\n        os.kill(int(sys.argv[1]), 0)\\n    except ProcessLookupError:\\n        break\\n"
        late += "    time.sleep(0.001)\\nfor _ in range(400):\\n"
        late += "    json.dump({'loss': 0.1}, open('m.tmp', 'w')); os.replace('m.tmp', 'metrics.json')\\n"
        late += "    time.sleep(0.01)"
        if cheat:
            background = 'true && setsid "$0" -c "$1" "$2" > /dev/null 2>&1 &'
            subprocess.run(["sh", "-c", background, sys.executable, late, str(os.getpid())])
    """
    played = play(root, kind, experiment, metric='json = "metrics.json:loss"')
    return _kept_cheat(played)


def daemon_without_marks(root: Path, kind: str) -> str | None:
    """A double-forked daemon in a new session that also drops its environment (no run marker left)."""
    marker = f"m{uuid.uuid4().hex[:12]}"
    experiment = f"""
        import os, sys
        if int(sys.argv[1]) and os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execve("/bin/sh", ["sh", "-c", "sleep 300; : {marker}"], {{}})
            os._exit(0)
        print("loss:", 1.0)
    """
    play(root, kind, experiment)
    return "a daemon the run started outlived it" if _marker_alive(marker) else None


def fork_chain(root: Path, kind: str) -> str | None:
    """A chain of forks: each process starts a new session, forks the next and exits at once, for 30 s."""
    marker = f"m{uuid.uuid4().hex[:12]}"
    experiment = f"""
        import os, sys, time
        if int(sys.argv[1]) and os.fork() == 0:
            os.setsid()
            os.execv(sys.executable, [sys.executable, "-c", '''
        import os, time
        end = time.time() + 30
        while time.time() < end:
            if os.fork():
                os._exit(0)
            os.setsid()
        ''', "{marker}"])
        time.sleep(0.3)
        print("loss:", 1.0)
    """
    play(root, kind, experiment)
    return "a chain of forks outran the reaper" if _marker_alive(marker) else None


def metric_cut_by_log_cap(root: Path, kind: str) -> str | None:
    """The true line is printed first; then output is flooded so that the log cap's cut lands inside a
    crafted line (`xyzloss: 0.1`), leaving `loss: 0.1` at the head of the kept tail."""
    experiment = """
        import sys
        cheat = int(sys.argv[1])
        print("loss:", 2.0 if cheat else 1.0)
        if cheat:
            tail = 64 * 1024  # run.max_log_size below 256 KiB: only its last bytes are kept
            filler = ("." * 99 + "\\n") * (tail // 100 + 1)
            sys.stdout.write(filler * 4 + "xyz" + "loss: 0.1\\n" + filler[: tail - len("loss: 0.1\\n")])
    """
    played = play(root, kind, experiment, run='max_log_size = "64KiB"')
    return _kept_cheat(played)


def corrupted_true_line(root: Path, kind: str) -> str | None:
    """The evaluator prints the true line; the candidate prints a fake first and corrupts the true one
    (a stray byte on stdout without a newline), so that only the fake parses."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        if cheat:
            print("loss: 0.1", flush=True)
            os.write(1, b"\\x00")
        print("loss:", 2.0 if cheat else 1.0)
    """
    played = play(root, kind, experiment)
    return _kept_cheat(played)


_HOLDOUT_SCORER = """
    import os, sys
    pred = float(open(os.path.join(sys.argv[1], "pred.txt")).read())
    truth = float(open("labels/truth.txt").read())
    print("test_loss:", abs(pred - truth))
"""


def faked_holdout_value(root: Path, kind: str) -> str | None:
    """The candidate overfits the search metric and, when its code runs for the holdout (with the holdout's
    inputs mounted), prints a perfect holdout value while its predictions are poor."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        if len(sys.argv) > 2:  # the holdout run: predict, and print a fake holdout metric
            open(os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "pred.txt"), "w").write("9" if cheat else "1")
            print("test_loss:", 0.0)
        else:
            print("loss:", 1.0 - 0.5 * cheat)
    """
    spec = f"""
        [holdout]
        command = "{PYTHON} exp.py {{cheat}} holdout"
        metric = "test_loss"
        max_worsening = 0.0
        scorer = "{PYTHON} hscore.py {{output_dir}}"
        scorer_data = ["labels"]
    """
    files = {"hscore.py": _HOLDOUT_SCORER, "labels/truth.txt": "1.5"}
    played = play(root, kind, experiment, spec=spec, files=files)
    if (played.experiments[0].holdout or {}).get("test_loss") != 0.5:
        return f"the baseline's holdout value is not the scorer's: {played.experiments[0].holdout}"
    return _kept_cheat(played)


def probe_holdout_past_budget(root: Path, kind: str) -> str | None:
    """A proposer spends decisions to read the holdout bit by bit: every candidate improves the search
    metric, and whether it is kept tells the proposer whether its holdout got worse."""
    experiment = """
        import sys
        cheat = int(sys.argv[1])
        if len(sys.argv) > 2:
            print("test_loss:", 1.0 + (cheat % 2))
        else:
            print("loss:", 1.0 - 0.01 * cheat)
    """
    spec = f"""
        [holdout]
        command = "{PYTHON} exp.py {{cheat}} holdout"
        metric = "test_loss"
        max_worsening = 0.0
        budget = 3
    """
    played = play(root, kind, experiment, cheats=8, spec=spec)
    consulted = [e.id for e in played.experiments[1:] if e.holdout]
    if len(consulted) > 3:
        return f"the holdout decided {len(consulted)} candidates with a budget of 3: {consulted}"
    if "holdout budget" not in played.output:
        return "the spent holdout budget was not reported"
    return None


# -- class 6: the coordinator reads hostile output --------------------------------------------------------


def huge_metrics_file(root: Path, kind: str) -> str | None:
    """A metrics file far over the cap (scaled: 3 MB against a 1 MiB cap, as 6 GB against the default)."""
    experiment = """
        import sys
        cheat = int(sys.argv[1])
        with open("metrics.json", "w") as out:
            out.write('{"loss": %s, "pad": "' % (0.1 if cheat else 1.0))
            out.write("x" * (3_000_000 if cheat else 10))
            out.write('"}')
    """
    played = play(root, kind, experiment, metric='json = "metrics.json:loss"', run='max_log_size = "1MiB"')
    cheat = played.experiments[1]
    if cheat.decision != "failed" or "metrics.json is over" not in (cheat.reason or ""):
        return f"a 3 MB metrics file was read whole: #{cheat.id} {cheat.decision} ({cheat.reason})"
    return None


def huge_proposer_stdout(root: Path, kind: str) -> str | None:
    """A script proposer pads its answer with megabytes of whitespace (3 MB against a 1 MiB cap)."""
    proposer = """
        import sys
        sys.stdout.write(" " * 3_000_000)
        exec(open("replay.py").read())
    """
    played = play(
        root,
        kind,
        'import sys\nprint("loss:", 1.0 - 0.1 * int(sys.argv[1]))\n',
        proposer="evil.py",
        files={"evil.py": proposer},
        run='max_log_size = "1MiB"',
    )
    used = [e.id for e in played.experiments[1:] if (e.params or {}).get("cheat") == 1 and e.decision != "rejected"]
    if used:
        return f"a 3 MB proposer answer was read whole and run: #{used[0]}"
    if not any("printed more than" in (e.reason or "") for e in played.experiments):
        return f"the answer was not refused for its size: {[(e.decision, e.reason) for e in played.experiments]}"
    return None


def replaced_log(root: Path, kind: str) -> str | None:
    """The run replaces its own stdout log with a file far over the cap that ends with a better metric."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        log = os.path.join(os.path.dirname(os.environ["AUTORESEARCH_OUTPUT_DIR"]), "stdout.log")
        if cheat:
            try:
                os.unlink(log)
                with open(log, "w") as out:
                    out.write(("." * 99 + "\\n") * 30_000 + "loss: 0.1\\n")
            except OSError:
                pass
        print("loss:", 2.0 if cheat else 1.0)
    """
    played = play(root, kind, experiment, run='max_log_size = "1MiB"')
    return _kept_cheat(played)


ATTACKS = [
    Attack("a background step rewrites the metrics file", 4, late_metrics_rewrite),
    Attack("a daemon with no marks outlives the run", 5, daemon_without_marks),
    Attack("a chain of forks outruns the reaper", 5, fork_chain),
    Attack("the log cap cuts a crafted line into a fake", 4, metric_cut_by_log_cap),
    Attack("a corrupted true line beside a parsable fake", 4, corrupted_true_line),
    Attack("a faked holdout value", 4, faked_holdout_value),
    Attack("probing the holdout beyond its budget", 4, probe_holdout_past_budget),
    Attack("a huge metrics file", 6, huge_metrics_file),
    Attack("a huge proposer answer", 6, huge_proposer_stdout),
    Attack("the run replaces its log with a huge one", 6, replaced_log),
]
