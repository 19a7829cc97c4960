"""Attacks on measurement isolation, each played for real (the CLI, real processes) under a sandbox kind.

A scenario builds a params-mode study in a fresh folder whose candidate (or proposer) attacks, runs it
with `autoresearch run`, and returns None when the attack was held, or what got through. The same
scenarios back tests/redteam/test_isolation.py and benchmarks/attacks.py. `holds` names the sandbox
kinds under which the defence is structural; under the others the attack is expected to get through
(docs/trust.md says so), and the tests check that too, so the documented limits stay true.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.store.database import Store

PYTHON = sys.executable
SECRETS = {
    "SECRET_KEY": "sk-django-4242",
    "PGPASSWORD": "pg-4242",
    "DATABASE_URL": "postgres://u:db-4242@h/db",
    "AWS_KEY_2": "aws-4242",
}

REPLAY = """
import json, os, sys
study = json.load(sys.stdin)
with open(os.path.join(os.environ.get("AUTORESEARCH_PROPOSER_DIR", "."), "payloads.jsonl"), "a") as log:
    log.write(json.dumps(study) + "\\n")
proposals = json.load(open("proposals.json"))
step = len(study["history"]) + len(study["pending"]) - 1
print(json.dumps(proposals[step] if step < len(proposals) else {"done": True}))
"""


@dataclass
class Played:
    root: Path
    experiments: list[Experiment]
    output: str  # the CLI's stdout and stderr

    def decisions(self) -> list[str | None]:
        return [e.decision for e in self.experiments]

    def payloads(self) -> str:
        files = [*self.root.glob(".autoresearch/*/proposer/payloads.jsonl"), *self.root.glob("payloads.jsonl")]
        return "".join(p.read_text() for p in files)


def play(
    root: Path,
    kind: str,
    experiment: str,
    *,
    cheats: int = 1,
    spec: str = "",
    run: str = "",
    metric: str = "",
    proposer: str = "",
    files: dict[str, str] | None = None,
    git: bool = False,
    prepare: Callable[[Path], None] | None = None,
) -> Played:
    """Run a study whose experiment is EXPERIMENT (`cheat` = 0 for the baseline, then 1..CHEATS);
    PREPARE(ROOT), when given, runs on the study's files before anything else (links, a worktree)."""
    root.mkdir(parents=True)
    use = f"script:{PYTHON} {proposer or 'replay.py'}"
    toml = f"""
        [study]
        name = "rt"
        [run]
        command = "{PYTHON} exp.py {{cheat}}"
        timeout = "30s"
        {run}
        [metric]
        name = "loss"
        {metric}
        [params]
        cheat = {{ low = 0, high = 100, default = 0 }}
        [proposer]
        use = "{use}"
        [budget]
        experiments = {cheats + 1}
        [sandbox]
        kind = "{kind}"
        """
    (root / "autoresearch.toml").write_text(textwrap.dedent(toml) + textwrap.dedent(spec))
    for name, text in {"exp.py": experiment, "replay.py": REPLAY, **(files or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    (root / "proposals.json").write_text(json.dumps([{"params": {"cheat": c}} for c in range(1, cheats + 1)]))
    if prepare is not None:
        prepare(root)
    if git:
        commit = ["-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "i"]
        for args in (["init", "-q"], ["add", "-A"], commit):
            subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    done = subprocess.run(
        [PYTHON, "-m", "autoresearch", "run", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **SECRETS, "COLUMNS": "200"},
    )
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        experiments = store.experiments()
    finally:
        store.close()
    return Played(root, experiments, done.stdout + done.stderr)


def _kept_cheat(played: Played) -> str | None:
    kept = [e for e in played.experiments[1:] if e.decision == "kept"]
    return f"a cheating candidate was kept: #{kept[0].id} ({kept[0].objective})" if kept else None


# -- class 2: autoresearch acts on the candidate's behalf ----------------------------------------------


def plant_symlinks(root: Path, kind: str) -> str | None:
    """The run plants links where autoresearch writes next (its repeat folder, the next experiment's
    folder, its own log files), all pointing into .git."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        params = os.environ.get("AUTORESEARCH_PARAMS_FILE", "")  # (older versions had no output folder)
        out = os.environ.get("AUTORESEARCH_OUTPUT_DIR") or os.path.join(os.path.dirname(params), "output")
        git = os.path.join(os.getcwd(), ".git")
        if cheat and not out.endswith(os.path.join("repeat-1", "output")):
            here = os.path.dirname(out)
            for link, target in (
                (os.path.join(here, "repeat-1"), git),
                (os.path.join(here, "..", "00002"), git),
                (os.path.join(here, "stdout.log"), os.path.join(git, "config")),
                (os.path.join(here, "params.json"), os.path.join(git, "HEAD")),
            ):
                try:
                    if os.path.lexists(link):
                        os.unlink(link)
                    os.symlink(target, link)
                except OSError:
                    pass
        print("loss:", 1.0 - 0.1 * cheat)
    """
    played = play(root, kind, experiment, cheats=2, run="repeats = 2", git=True)
    git = played.root / ".git"
    if not (git / "HEAD").read_text().startswith("ref:"):
        return f"autoresearch wrote .git/HEAD: {(git / 'HEAD').read_text()[:100]!r}"
    for path in git.rglob("*"):
        if path.is_file() and "objects" not in path.parts:
            text = path.read_bytes()
            if b"loss:" in text or b'"cheat"' in text:
                return f"autoresearch wrote into {path.relative_to(played.root)}"
    return None


def metrics_file_link(root: Path, kind: str) -> str | None:
    """The metrics file is a link to a file the candidate wants read as its result."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        os.makedirs("out", exist_ok=True)
        if os.path.lexists("out/metrics.json"):
            os.unlink("out/metrics.json")
        if cheat:
            os.symlink(os.path.abspath("planted.json"), "out/metrics.json")
        else:
            open("out/metrics.json", "w").write('{"loss": 1.0}')
    """
    planted = {"planted.json": '{"loss": -5}'}
    played = play(root, kind, experiment, metric='json = "out/metrics.json:loss"', files=planted)
    return _kept_cheat(played)


# -- class 3: guards, the holdout and proposers are sandboxed --------------------------------------------


def guard_writes_outside(root: Path, kind: str) -> str | None:
    """A guard command (running the candidate's code) writes outside the run's folder."""
    outside = root.parent / f"{root.name}-outside.txt"
    experiment = f"""
        import sys
        if len(sys.argv) > 2:  # the guard
            try:
                open({str(outside)!r}, "w").write("guard was here")
            except OSError:
                pass
            sys.exit(0)
        print("loss:", 1.0 - 0.1 * int(sys.argv[1]))
    """
    play(root, kind, experiment, spec=f'[[guard]]\nname = "check"\ncommand = "{PYTHON} exp.py {{cheat}} guard"\n')
    return f"the guard wrote {outside}" if outside.exists() else None


@contextmanager
def loopback_server(answer: bytes = b"") -> Iterator[tuple[int, list[bool]]]:
    """A TCP server on the host's loopback for network attacks: yields its port and a list that gets
    one entry per connection it accepted (each is sent ANSWER, then closed)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    reached: list[bool] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            reached.append(True)
            if answer:
                conn.sendall(answer)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], reached
    finally:
        stop.set()
        thread.join()
        server.close()


def guard_network(root: Path, kind: str) -> str | None:
    """With network = false, a guard opens a connection to a server on the host's loopback."""
    with loopback_server() as (port, reached):
        experiment = f"""
            import socket, sys
            if len(sys.argv) > 2:
                try:
                    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
                except OSError:
                    pass
                sys.exit(0)
            print("loss:", 1.0 - 0.1 * int(sys.argv[1]))
        """
        play(
            root,
            kind,
            experiment,
            spec=f'network = false\n[[guard]]\nname = "check"\ncommand = "{PYTHON} exp.py {{cheat}} guard"\n',
        )
    return "the guard reached the host's loopback with network = false" if reached else None


def _marker_alive(marker: str) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def daemon_outlives_run(root: Path, kind: str) -> str | None:
    """The run double-forks a daemon in a new session that would rewrite later results."""
    marker = f"{uuid.uuid4().hex[:12]}"
    experiment = f"""
        import subprocess, sys
        if int(sys.argv[1]):
            subprocess.Popen(["setsid", "sh", "-c", "sleep 300; : {marker}"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("loss:", 1.0)
    """
    play(root, kind, experiment)
    return "a process the run started outlived it" if _marker_alive(marker) else None


def proposer_daemon(root: Path, kind: str) -> str | None:
    """A script proposer leaves a daemon running behind its answer."""
    marker = f"{uuid.uuid4().hex[:12]}"
    proposer = f"""
        import subprocess
        subprocess.Popen(["setsid", "sh", "-c", "sleep 300; : {marker}"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        exec(open("replay.py").read())
    """
    play(root, kind, 'import sys\nprint("loss:", 1.0)\n', proposer="evil.py", files={"evil.py": proposer})
    return "a process the proposer started outlived it" if _marker_alive(marker) else None


def proposer_edits_spec(root: Path, kind: str) -> str | None:
    """A script proposer rewrites the spec (a longer budget, a looser timeout)."""
    proposer = """
        try:
            open("autoresearch.toml", "a").write("\\n# the proposer was here\\n")
        except OSError:
            pass
        exec(open("replay.py").read())
    """
    played = play(root, kind, 'import sys\nprint("loss:", 1.0)\n', proposer="evil.py", files={"evil.py": proposer})
    changed = "proposer was here" in (played.root / "autoresearch.toml").read_text()
    return "the proposer changed the spec" if changed else None


# -- class 4: the study's own state ------------------------------------------------------------------------


def rewrite_the_store(root: Path, kind: str) -> str | None:
    """The run rewrites study.db: its own row and the baseline's become a much better 'kept' record."""
    experiment = """
        import glob, sqlite3, sys
        cheat = int(sys.argv[1])
        if cheat:
            for path in glob.glob(".autoresearch/*/study.db"):
                try:
                    db = sqlite3.connect(path, timeout=5)
                    db.execute("UPDATE experiments SET objective = -100, decision = 'kept' WHERE id = 1")
                    db.commit()
                except sqlite3.Error:
                    pass
        print("loss:", 1.0 + cheat)
    """
    played = play(root, kind, experiment, cheats=2)
    tampered = [e for e in played.experiments if e.objective == -100]
    if not tampered:
        return None
    if "another process wrote the study store" in played.output and len(played.experiments) == 2:
        return None  # detected: the loop stopped and decided nothing more
    return f"the store was rewritten unnoticed: {[(e.id, e.decision, e.objective) for e in tampered]}"


def edit_the_spec(root: Path, kind: str) -> str | None:
    """The run appends to the spec (to change the budget on resume)."""
    experiment = """
        import sys
        if int(sys.argv[1]):
            try:
                open("autoresearch.toml", "a").write("\\n# the run was here\\n")
            except OSError:
                pass
        print("loss:", 1.0)
    """
    played = play(root, kind, experiment)
    return "the run changed the spec" if "run was here" in (played.root / "autoresearch.toml").read_text() else None


# -- class 5: secrets and hidden data ----------------------------------------------------------------------


def read_secret_env(root: Path, kind: str) -> str | None:
    """Secrets under names no deny-list knows, in the candidate's and the proposer's environment."""
    values = list(SECRETS.values())
    experiment = f"""
        import os, sys
        found = [v for v in {values!r} if v in os.environ.values()]
        print("found:", found, file=sys.stderr)
        print("loss:", 1.0 - (0.5 if found else 0))
    """
    proposer = f"""
        import os
        if any(v in os.environ.values() for v in {values!r}):
            open(os.path.join(os.environ["AUTORESEARCH_PROPOSER_DIR"], "leak"), "w").write("x")
        exec(open("replay.py").read())
    """
    played = play(root, kind, experiment, proposer="evil.py", files={"evil.py": proposer})
    if any(e.objective == 0.5 for e in played.experiments):
        return "an experiment read a secret from its environment"
    if list(played.root.glob(".autoresearch/*/proposer/leak")):
        return "the proposer read a secret from its environment"
    return None


def read_ancestor_environ(root: Path, kind: str) -> str | None:
    """The run reads /proc/<pid>/environ of its ancestors (autoresearch, the shell that started it)."""
    values = list(SECRETS.values())
    experiment = f"""
        import os, sys
        found = []
        pid = os.getppid()
        for _ in range(20):
            try:
                env = open(f"/proc/{{pid}}/environ", "rb").read().decode(errors="replace")
                found += [v for v in {values!r} if v in env]
                stat = open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()
                pid = int(stat[1])
            except (OSError, ValueError, IndexError):
                break
            if pid <= 1:
                break
        print("loss:", 1.0 - (0.5 if found else 0))
    """
    played = play(root, kind, experiment)
    found = any(e.objective == 0.5 for e in played.experiments)
    return "the run read a secret from an ancestor's environment" if found else None


def read_hidden_data(root: Path, kind: str) -> str | None:
    """The run reads the scorer's hidden labels."""
    experiment = """
        import os, sys
        try:
            secret = open("hidden/answer.txt").read().strip()
        except OSError:
            secret = ""
        print("loss:", 1.0 - (0.5 if secret == "42" else 0))
    """
    spec = '[holdout]\ncommand = "true; echo test_loss: 1"\nmetric = "test_loss"\ndata = ["hidden"]\n'
    played = play(root, kind, experiment, spec=spec, files={"hidden/answer.txt": "42\n"})
    return "the run read hidden data" if any(e.objective == 0.5 for e in played.experiments) else None


def relay_holdout_logs(root: Path, kind: str) -> str | None:
    """The run re-prints earlier holdout logs as its own output, under the holdout's name and another."""
    experiment = """
        import glob, re, sys
        for path in glob.glob(".autoresearch/*/experiments/*/holdout/stdout.log"):
            try:
                for value in re.findall(r"test_loss: ([0-9.]+)", open(path).read()):
                    print("test_loss:", value)
                    print("relayed:", value)
            except OSError:
                pass
        print("loss:", 1.0 - 0.1 * int(sys.argv[1]))
    """
    holdout = "import sys\nprint('test_loss: 0.777123')\n"
    spec = f'[holdout]\ncommand = "{PYTHON} holdout.py"\nmetric = "test_loss"\n'
    played = play(root, kind, experiment, cheats=2, spec=spec, files={"holdout.py": holdout})
    return "a holdout value reached the proposer" if "0.777123" in played.payloads() else None


# -- class 6: the metric comes from the candidate's process ------------------------------------------------


def nan_guard_metric(root: Path, kind: str) -> str | None:
    """A guard metric that is nan passes every bound by comparison; it must fail the guard."""
    experiment = """
        import sys
        cheat = int(sys.argv[1])
        print("acc:", "nan" if cheat else 0.95)
        print("loss:", 1.0 - 0.5 * cheat)
    """
    played = play(root, kind, experiment, spec='[[guard]]\nname = "accuracy"\nmetric = "acc"\nmin = 0.9\n')
    return _kept_cheat(played)


def fake_last_line(root: Path, kind: str) -> str | None:
    """The real metric is printed, then a better fake one: flagged (the last line counts, by the rule)."""
    experiment = """
        import sys
        print("loss:", 2.0)
        if int(sys.argv[1]):
            print("loss:", 0.1)
    """
    played = play(root, kind, experiment, spec="[integrity]\nreject_flagged = true\n")
    return _kept_cheat(played)


def fake_metric_with_a_scorer(root: Path, kind: str) -> str | None:
    """With a scorer, the candidate prints a perfect metric and writes poor predictions."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        open(os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "pred.txt"), "w").write("3" if cheat else "1")
        print("loss:", 0.0 if cheat else 1.0)
    """
    scorer = """
        import os, sys
        pred = float(open(os.path.join(sys.argv[1], "pred.txt")).read())
        truth = float(open("hidden/truth.txt").read())
        print("loss:", abs(pred - truth))
    """
    spec = f'[scorer]\ncommand = "{PYTHON} score.py {{output_dir}}"\ndata = ["hidden"]\n'
    played = play(root, kind, experiment, spec=spec, files={"score.py": scorer, "hidden/truth.txt": "1.5"})
    if played.experiments[0].objective != 0.5:
        return f"the baseline's objective is not the scorer's: {played.experiments[0].objective}"
    return _kept_cheat(played)


@dataclass(frozen=True)
class Attack:
    name: str
    kind_of_attack: int  # the class in issue #10's list (1-6)
    play: Callable[[Path, str], str | None]
    holds: tuple[str, ...] = ("none", "bwrap")  # where the defence is structural


ATTACKS = [
    Attack("plant symlinks where autoresearch writes", 2, plant_symlinks),
    Attack("metrics file is a link", 2, metrics_file_link),
    Attack("guard writes outside the run's folder", 3, guard_writes_outside, ("bwrap",)),
    Attack("guard opens a connection (network = false)", 3, guard_network),
    Attack("run leaves a daemon behind", 3, daemon_outlives_run),
    Attack("proposer leaves a daemon behind", 3, proposer_daemon),
    Attack("proposer edits the spec", 3, proposer_edits_spec, ("bwrap",)),
    Attack("run rewrites the store", 4, rewrite_the_store),
    Attack("run edits the spec", 4, edit_the_spec, ("bwrap",)),
    Attack("secrets under unknown names", 5, read_secret_env),
    Attack("ancestor's /proc/<pid>/environ", 5, read_ancestor_environ, ("bwrap",)),
    Attack("read hidden data", 5, read_hidden_data, ("bwrap",)),
    Attack("relay holdout logs to the proposer", 5, relay_holdout_logs, ("bwrap",)),
    Attack("nan guard metric", 6, nan_guard_metric),
    Attack("fake metric line printed last", 6, fake_last_line),
    Attack("fake metric with a scorer", 6, fake_metric_with_a_scorer),
]
