"""Issue #20, class 5 (the tool's own promises under `none`) and class 3's paired-rule and loopback parts.

Code-mode scenarios run a real study in a fresh git repository (tests/redteam/conftest.py's
`code_study`): `train.py` is the candidate's, `evaluate.py` (protected) imports it and prints the
metric. Each returns None when the attack was held, or what got through.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.store.database import Store
from tests.conftest import cli
from tests.redteam.conftest import code_study
from tests.redteam.scenarios import Attack, loopback_server, play

EVALUATE = "import train\nprint('loss:', train.LOSS)\n"


def _code_play(
    root: Path, kind: str, candidates: list[str], *, spec: str = "", env: dict[str, str] | None = None
) -> tuple[list[Experiment], str]:
    """Run a code study whose candidates are these train.py contents (the baseline's LOSS is 1.0)."""
    proposals = [{"edits": {"train.py": textwrap.dedent(text)}, "rationale": "r"} for text in candidates]
    files = {"train.py": "LOSS = 1.0\n", "evaluate.py": EVALUATE, "data/readme.txt": "data\n"}
    code_study(root, files, proposals, extra=f'[sandbox]\nkind = "{kind}"\n{spec}')
    done = cli("run", str(root), timeout=300, env_extra=env)
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        return store.experiments(), done.stdout + done.stderr
    finally:
        store.close()


def planted_git(root: Path, kind: str) -> str | None:
    """The run writes a `git` into a folder that comes first on PATH (as a virtual environment's bin/
    does); autoresearch's next git calls, and `best` afterwards, would run it."""
    folder = root / "venv-bin"
    marker = root.parent / f"{root.name}-planted-git-ran"
    script = f'#!/bin/sh\necho ran >> {marker}\nexec /usr/bin/git "$@"\n'
    candidate = f"""
        import os
        try:
            os.makedirs({str(folder)!r}, exist_ok=True)
            with open(os.path.join({str(folder)!r}, "git"), "w") as planted:
                planted.write({script!r})
            os.chmod(os.path.join({str(folder)!r}, "git"), 0o755)
        except OSError:
            pass
        LOSS = 0.9
    """
    path = f"{folder}{os.pathsep}{os.environ['PATH']}"
    _code_play(root, kind, [candidate, "LOSS = 0.8\n"], env={"PATH": path})
    cli("best", str(root), env_extra={"PATH": path})
    return f"a planted git ran: {marker.read_text().count('ran')} times" if marker.exists() else None


REWRITE_OWN_BLOB = """
    import hashlib, os, zlib
    EVIL = b"LOSS = 0.0  # REWR" + b"ITTEN after it was measured\\n"  # the marker is not in this source
    try:
        mine = open(__file__, "rb").read()
        oid = hashlib.sha1(b"blob %d\\0" % len(mine) + mine).hexdigest()
        admin = open(".git").read().split("gitdir:", 1)[1].strip()
        common = os.path.join(admin, open(os.path.join(admin, "commondir")).read().strip())
        loose = os.path.join(common, "objects", oid[:2], oid[2:])
        os.chmod(loose, 0o644)
        open(loose, "wb").write(zlib.compress(b"blob %d\\0" % len(EVIL) + EVIL))
    except Exception:
        pass
    LOSS = 0.9
"""


def rewritten_loose_object(root: Path, kind: str) -> str | None:
    """The run rewrites the loose object of its own train.py (found through its worktree's `gitdir:`),
    after it was measured: `best` and `apply` would show and write code that was never measured."""
    _code_play(root, kind, [REWRITE_OWN_BLOB])
    best = cli("best", str(root))
    if best.returncode == 0 and "REWRITTEN" in best.stdout:
        return "`best` showed a rewritten object as the measured code"
    applied = cli("apply", str(root))
    if applied.returncode == 0 and "REWRITTEN" in (root / "train.py").read_text():
        return "`apply` wrote a rewritten object into the checkout"
    return None


MOVE_BRANCH = """
    import subprocess
    subprocess.run(["git", "update-ref", "refs/heads/autoresearch/rt", "HEAD"], capture_output=True)
    LOSS = 1.5
"""


def study_branch_moved(root: Path, kind: str) -> str | None:
    """A reverted candidate points the study branch at its own commit, which the study did not keep."""
    experiments, _ = _code_play(root, kind, ["LOSS = 0.9\n", MOVE_BRANCH])
    kept = [e for e in experiments if e.decision in ("baseline", "kept")][-1]
    branch = subprocess.run(
        ["git", "rev-parse", "autoresearch/rt"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    status = cli("status", str(root))
    if branch != kept.commit_sha:
        return f"the study branch points at {branch[:12]}, not the best's {str(kept.commit_sha)[:12]}"
    if kind == "none" and "tampered" not in status.stdout + status.stderr:
        return "the branch was moved and `status` said nothing"
    return None


def store_tampered_then_best(root: Path, kind: str) -> str | None:
    """The run rewrites the baseline's row (objective -100); the loop stops, then `best` and `apply`."""
    experiment = """
        import glob, sqlite3, sys
        if int(sys.argv[1]):
            for path in glob.glob(".autoresearch/*/study.db"):
                try:
                    db = sqlite3.connect(path, timeout=5)
                    db.execute("UPDATE experiments SET objective = -100 WHERE id = 1")
                    db.commit()
                except sqlite3.Error:
                    pass
        print("loss:", 1.0 + int(sys.argv[1]))
    """
    played = play(root, kind, experiment)
    if not any(e.objective == -100 for e in played.experiments):
        return None  # the run could not reach the store (bwrap hides it)
    best = cli("best", str(root))
    if best.returncode == 0:
        return f"`best` used the tampered store: {best.stderr.strip()}"
    applied = cli("apply", str(root))
    if applied.returncode == 0:
        return f"`apply` used the tampered store: {applied.stdout.strip()}"
    return None if "tampered" in best.stderr else f"`best` refused without naming the tamper: {best.stderr}"


EVICTING_NO_OP = """
    import os, random, sys, time
    cheat = int(sys.argv[1])
    fd = os.open("data.bin", os.O_RDONLY)
    if cheat:  # the no-op candidate: its own run finds the data in the cache ...
        while os.read(fd, 1 << 20):
            pass
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # lookups: a cold page costs a disk read each
    offsets = random.Random(0).sample(range(os.fstat(fd).st_size >> 12), 3000)
    start = time.perf_counter()
    for page in offsets:
        os.pread(fd, 64, page << 12)
    print("loss:", time.perf_counter() - start)
    if cheat:  # ... and leaves it on disk only, for whoever runs next
        try:
            os.fsync(fd)
        except OSError:
            pass
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
"""


def page_cache_eviction(root: Path, kind: str) -> str | None:
    """Under the paired rule, a no-op candidate evicts the benchmark's data from the page cache as it
    exits, so the incumbent's next run reads it from disk (a 40-fold slower lookup here)."""
    spec = '[noise]\nrule = "paired"\npairs = 4\nmax_pairs = 8\nconfirm = false\n'
    played = play(root, kind, EVICTING_NO_OP, spec=spec, files={"data.bin": "x" * (48 << 20)})
    kept = [e for e in played.experiments if e.decision == "kept"]
    if kept:
        return f"the no-op evicting the incumbent's data was kept: {kept[0].reason}"
    return None


def loopback_service(root: Path, kind: str) -> str | None:
    """With network = false, the run connects to a service on the host's loopback (IPv4 and IPv6)."""
    with loopback_server() as (port, reached):
        experiment = f"""
            import socket, sys
            for host in ("127.0.0.1", "::1", "localhost"):
                try:
                    socket.create_connection((host, {port}), timeout=3).close()
                except OSError:
                    pass
            print("loss:", 1.0 - 0.1 * int(sys.argv[1]))
        """
        play(root, kind, experiment, spec="network = false\n")
    return f"a run reached the host's loopback {len(reached)} times with network = false" if reached else None


ATTACKS = [
    Attack("a git planted on PATH", 5, planted_git),
    Attack("a loose object rewritten through the worktree's gitdir", 5, rewritten_loose_object),
    Attack("the study branch moved to an unkept commit", 5, study_branch_moved),
    Attack("the store tampered, then best / apply", 5, store_tampered_then_best),
    Attack("a no-op evicts the incumbent's page cache (paired rule)", 3, page_cache_eviction),
    Attack("a loopback service under network = false", 3, loopback_service),
]
