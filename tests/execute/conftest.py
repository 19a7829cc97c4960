"""A real Ray cluster on 127.0.0.1 for the tests of one module, kept small and stopped when they are done
(idle, its daemons still take a few percent of a core, which a session-long cluster took from every later test)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """`ray start --head` (blocking, in its own process group) on a free port; yields its address."""
    port = free_port()
    # A throwaway cluster on 127.0.0.1: no token to share between the head, this process and the CLI runs.
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    temp = Path(f"/tmp/ray_t{os.getpid()}")  # Ray's socket paths must stay short
    log = open(temp.with_suffix(".log"), "w")  # noqa: SIM115 - closed at teardown
    head = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ray")),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--num-gpus=1",  # declared, not real: Ray hands out shares of it (CUDA_VISIBLE_DEVICES=0)
            f"--temp-dir={temp}",
            "--include-dashboard=false",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its processes form one group, stopped together at the end
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in temp.with_suffix(".log").read_text():
            assert head.poll() is None, temp.with_suffix(".log").read_text()
            assert time.monotonic() < deadline, "the Ray head did not start in 90 s"
            time.sleep(0.5)
        yield address
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(head.pid, sig)
                head.wait(wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        log.close()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


@pytest.fixture
def ray_driver_cleanup() -> Iterator[None]:
    """Disconnect this process from Ray after a test that ran a study in-process."""
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()
