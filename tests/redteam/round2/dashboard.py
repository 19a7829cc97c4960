"""Class 3 (a channel around the sandbox): the live dashboard on the host's loopback.

With `network = true` a run reaches 127.0.0.1, where the user's dashboard serves the same study. The
candidate asks it for the baseline's holdout value on every page and API path, as itself and under a
forged Host header (what a DNS-rebinding page would send); the scenario then asks too, with the token,
since even the dashboard's rightful reader is never served a holdout value.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from autoresearch.ui.dashboard.server import serve
from tests.redteam.scenarios import PYTHON, Attack, play

HOLDOUT = "0.777123"
PATHS = ["/", "/api/studies", "/api/rt/state", "/api/rt/experiments?limit=500", "/api/rt/experiment/1"]
PATHS += ["/study/rt", "/study/rt/experiment/1"]


def read_holdout_from_the_dashboard(root: Path, kind: str) -> str | None:
    """The run reads the holdout value from a live dashboard on loopback, with and without a forged Host."""
    server = serve([root / ".autoresearch" / "rt"])
    port = server.server_address[1]
    try:
        experiment = f"""
            import sys, urllib.error, urllib.request
            found, refused = False, 0
            if int(sys.argv[1]):
                for host in (None, "evil.example:{port}", "localhost:{port}"):
                    for path in {PATHS!r}:
                        request = urllib.request.Request("http://127.0.0.1:{port}" + path)
                        if host:
                            request.add_header("Host", host)
                        try:
                            found |= "{HOLDOUT}" in urllib.request.urlopen(request, timeout=5).read().decode()
                        except urllib.error.HTTPError as exc:
                            refused += exc.code in (401, 403, 421)
                        except OSError:
                            pass
                print("refused:", refused)
            print("loss:", 0.5 if found else 1.0 - 0.1 * int(sys.argv[1]))
        """
        spec = f'[holdout]\ncommand = "{PYTHON} holdout.py"\nmetric = "test_loss"\n'
        holdout = f"print('test_loss: {HOLDOUT}')\n"
        played = play(root, kind, experiment, spec=spec, files={"holdout.py": holdout})
        token = {"X-Autoresearch-Token": server.token}
        served = []
        for path in PATHS:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=token)
            with urllib.request.urlopen(request, timeout=10) as response:
                served.append(response.read().decode())
    finally:
        server.stop()
    if (played.experiments[0].holdout or {}).get("test_loss") != float(HOLDOUT):
        return f"no holdout value to steal: the baseline's holdout is {played.experiments[0].holdout}"
    if any(e.objective == 0.5 for e in played.experiments):
        return "the run read a holdout value from the dashboard"
    if any(HOLDOUT in body for body in served):
        return "the dashboard served a holdout value to its token's holder"
    tries = 3 * len(PATHS)
    refused = (played.experiments[-1].metrics or {}).get("refused")
    if refused != tries:  # every try must have reached the dashboard and been turned away, or it proves nothing
        return f"of the run's {tries} requests, {refused} were refused by the dashboard: {played.output[-300:]}"
    return None


ATTACKS = [Attack("read the holdout from a live dashboard on loopback", 3, read_holdout_from_the_dashboard)]
