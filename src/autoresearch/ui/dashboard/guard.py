"""What keeps the live dashboard's data with its user: a secret on every request, the Host header
checked, and no holdout value in anything it serves.

A candidate run with network access reaches the host's loopback, and a web page the user visits can
reach it too through DNS rebinding (a name that resolves to 127.0.0.1 after the page loaded). So the
dashboard never trusts "it came from 127.0.0.1": every request carries a secret (the user's --token or
one drawn per process and printed in the URL), its Host must be an address the dashboard was bound to
or a loopback name (a rebound name is neither), and even an authorised reader never gets a holdout
number, only whether the holdout was evaluated; the holdout's only job is to be unseen by the search.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
from typing import Any

from autoresearch.execute.feedback import Redactor

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def new_secret() -> str:
    """A per-process secret for the URL: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def _split_host(header: str) -> tuple[str, int | None] | None:
    """('name', port or None) of a Host header, or None when it is malformed."""
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8765
        end = header.find("]")
        if end < 0:
            return None
        name, rest = header[: end + 1], header[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else ""
    else:
        name, _, port_text = header.partition(":")
    if not name:
        return None
    if not port_text:
        return name, None
    if not port_text.isdigit():
        return None
    return name, int(port_text)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class HostCheck:
    """Which Host headers a dashboard bound to HOST:PORT answers: the bound address, loopback names,
    and, when bound to every interface, IP literals and this machine's own names (a DNS rebinding
    attack always arrives under a name of the attacker's, which is none of these)."""

    def __init__(self, host: str, port: int) -> None:
        self.port = port
        bound = host.lower()
        self.names = set(LOOPBACK_NAMES) | {f"[{bound}]" if ":" in bound else bound}
        self.any_interface = bound in WILDCARD_HOSTS
        if self.any_interface:
            self.names |= {socket.gethostname().lower(), socket.getfqdn().lower()}

    def allows(self, header: str | None) -> bool:
        if not header:
            return False  # HTTP/1.1 requires it; a client that omits it is not a browser we serve
        split = _split_host(header)
        if split is None:
            return False
        name, port = split
        if port is not None and port != self.port:
            return False
        return name in self.names or (self.any_interface and _is_ip_literal(name))


# -- no holdout values -----------------------------------------------------------------------------


def holdout_verdict(value: Any) -> str | None:
    """The one bit the dashboard shows of a holdout result: 'evaluated' or 'failed' (None: no holdout)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return "failed"
    if isinstance(value, dict) and "error" in value:
        return "failed"
    return "evaluated"


def holdout_metric_names(spec_snapshot: str | None, result_keys: list[str]) -> set[str]:
    """The holdout's metric names: the spec's (as the study's meta recorded it) and every key of a
    recorded holdout result (the spec may have been changed since)."""
    names = {key for key in result_keys if key != "error"}
    if spec_snapshot:
        try:
            holdout = json.loads(spec_snapshot).get("normalised", {}).get("holdout") or {}
        except (ValueError, AttributeError):
            holdout = {}
        if isinstance(holdout, dict) and isinstance(holdout.get("metric"), str):
            names.add(holdout["metric"])
    return names


class HoldoutScrubber:
    """Removes holdout values from what a run or proposer left: keys naming the holdout (or its
    metric) and lines of text that name it, at any depth (a run may re-print an earlier holdout log)."""

    def __init__(self, metric_names: set[str]) -> None:
        # Each Redactor drops lines naming the holdout or one metric name: one per name, all must allow.
        self._redactors = [Redactor(name) for name in sorted(metric_names)] or [Redactor(None)]

    def allows(self, text: str) -> bool:
        return all(r.allows(text) for r in self._redactors)

    def text(self, text: str) -> str:
        return "\n".join(line for line in text.splitlines() if self.allows(line))

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items() if self.allows(str(k))}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value) if not self.allows(value) else value
        return value
