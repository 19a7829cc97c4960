"""What bench.py and check.py share: the device, the dtype, the launch settings of a run, and the guards
that keep a kernel from cheating them (README.md, "Cheats this example refuses").

The guards are structural: every call of the kernel gets fresh random inputs and has its result checked
against a reference computed here from pristine copies of those inputs; the inputs must come back
unchanged; the result must not change after the call returns; and the clocks and checks this module and
the calling script use are pinned before kernel.py is imported, then must still be the same objects.
"""

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import torch

# No GPU: Triton's interpreter runs the kernel on the CPU with NumPy (correct, but no timing means anything).
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cpu" if INTERPRET else "cuda"
# fp16 in, fp32 accumulation on a GPU (what tensor cores do); the interpreter computes in fp32.
DTYPE = torch.float32 if INTERPRET else torch.float16

# Bound at import, before any candidate code runs: replacing time.perf_counter later changes nothing here.
_perf_counter = time.perf_counter
_sleep = time.sleep
# How long a result must stay unchanged after the kernel returns (work left running on a thread or stream).
SETTLE_S = 0.1
# On a GPU, the median CUDA-event time must be at least this share of the median synchronised wall time.
MIN_EVENT_SHARE = 0.25

Matmul = Callable[..., torch.Tensor]


def config_from_args() -> dict[str, Any]:
    """The params-mode study's values (`--config params.json`), or nothing: kernel.py's CONFIG."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    return json.loads(args.config.read_text()) if args.config else {}


def need_device() -> None:
    if not INTERPRET and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run on a GPU, or set TRITON_INTERPRET=1 for a correctness-only run on CPU")


def refuse(problem: str) -> NoReturn:
    """Ends the run as failed (exit code 1) with one line that names what the kernel did."""
    print(f"refused: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(1)


class Pinned:
    """The functions the protected code times and checks with, recorded before kernel.py is imported.

    A candidate that replaces any of them (the clock, the CUDA events, do_bench, the reference matmul,
    or a function or constant of bench.py, check.py or this module) is refused, whenever it does it."""

    def __init__(self) -> None:
        import triton.testing

        owners: list[tuple[str, Any, list[str]]] = [
            ("time", time, ["perf_counter", "perf_counter_ns", "monotonic", "time", "sleep"]),
            ("torch", torch, ["matmul", "equal", "allclose", "randn", "empty", "zeros"]),
            ("torch.Tensor", torch.Tensor, ["__matmul__", "clone", "float", "to", "abs", "max", "item", "zero_"]),
            ("torch.cuda", torch.cuda, ["synchronize"]),
            ("torch.cuda.Event", torch.cuda.Event, ["record", "elapsed_time", "synchronize"]),
            ("triton.testing", triton.testing, ["do_bench"]),
        ]
        # The calling script (bench.py or check.py runs as __main__) and this module: all their functions.
        for label in ("__main__", __name__):
            module = sys.modules[label]
            names = [name for name in vars(module) if not name.startswith("__")]  # functions and constants
            owners.append((label, module, names))
        self._pinned = [
            (f"{label}.{name}", owner, name, getattr(owner, name)) for label, owner, names in owners for name in names
        ]

    def verify(self, when: str) -> None:
        replaced = [
            label for label, owner, name, original in self._pinned if getattr(owner, name, None) is not original
        ]
        if replaced:
            refuse(f"{', '.join(replaced)} replaced {when}: the clocks and checks belong to bench.py and check.py")


def load_matmul(pinned: Pinned) -> Matmul:
    """kernel.py's `matmul`, imported only now that the protected functions are pinned."""
    kernel = importlib.import_module("kernel")
    pinned.verify("while importing kernel.py")
    return kernel.matmul


def synchronize() -> None:
    if not INTERPRET:
        torch.cuda.synchronize()  # device-wide: every stream, not only the default one


# Made before kernel.py is imported (and pinned with the rest), reseeded by the OS before every draw.
_generator = torch.Generator(device=DEVICE) if INTERPRET or torch.cuda.is_available() else None


def random_inputs(m: int, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """New values in new tensors: no answer a kernel remembers from an earlier call is right for these.

    The seed comes from the OS each time, so a kernel that reseeds or reads the generator cannot replay it."""
    assert _generator is not None, "need_device() first"
    _generator.manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
    a = torch.randn(m, k, device=DEVICE, dtype=DTYPE, generator=_generator)
    return a, torch.randn(k, n, device=DEVICE, dtype=DTYPE, generator=_generator)


def mismatch(got: object, a: torch.Tensor, b: torch.Tensor) -> str | None:
    """Why `got` is not a @ b (from pristine inputs), within 1% of the result's scale; None if it is."""
    expected = (a.float() @ b.float()).to(DTYPE)  # fp32 reference, rounded like the kernel's output
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"shape {shape}, expected {tuple(expected.shape)}"
    error = (got.float() - expected.float()).abs().max().item()
    tolerance = 1e-2 * (1 + expected.float().abs().max().item())
    if not error <= tolerance:  # also catches NaN
        return f"max error {error:.3g} > {tolerance:.3g}"
    return None


def verified_call(
    matmul: Matmul, a: torch.Tensor, b: torch.Tensor, pinned: Pinned, settle: bool, timed: bool = False
) -> tuple[str | None, float, float]:
    """One call of the kernel under every guard: (what is wrong with its result or None, event ms, wall ms).

    The timing window closes only after a device-wide synchronisation; then the inputs must be as they
    were and (if `settle`) the result unchanged a moment later, or the run is refused here. A wrong
    result is returned for the caller to report (check.py lists every shape)."""
    pristine_a, pristine_b = a.clone(), b.clone()
    events = (
        (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
        if timed and not INTERPRET
        else None
    )
    synchronize()
    start = _perf_counter()
    if events:
        events[0].record()
    got = matmul(a, b)
    if events:
        events[1].record()
    synchronize()
    wall_ms = (_perf_counter() - start) * 1000
    pinned.verify("during a call of matmul")
    event_ms = events[0].elapsed_time(events[1]) if events else wall_ms
    if not (torch.equal(a, pristine_a) and torch.equal(b, pristine_b)):
        refuse(f"matmul wrote into its inputs ({tuple(a.shape)} @ {tuple(b.shape)}): they must come back unchanged")
    if settle and isinstance(got, torch.Tensor):
        returned = got.clone()
        _sleep(SETTLE_S)
        synchronize()
        # Exactly, NaN included (a wrong kernel's garbage may hold NaN, which equals nothing).
        if not torch.allclose(got, returned, rtol=0, atol=0, equal_nan=True):
            refuse(
                "the result changed after matmul returned: its work ran on after the call (another thread or stream)"
            )
    return mismatch(got, pristine_a, pristine_b), event_ms, wall_ms


def time_launches(matmul: Matmul, size: int, warmup: int, reps: int, pinned: Pinned) -> float:
    """The median time of `reps` launches after `warmup`, each on fresh inputs and each result verified.

    Warm-up and timed calls look the same to the kernel; on a GPU the L2 cache is flushed before each,
    and a median event time far below the synchronised wall time (work on a stream the events do not
    see) is refused."""
    flush = None if INTERPRET else torch.empty(256 * 1024 * 1024 // 4, dtype=torch.int32, device=DEVICE)
    event_times, wall_times = [], []
    for call in range(warmup + reps):
        a, b = random_inputs(size, size, size)
        if flush is not None:
            flush.zero_()
        settle = call in (0, warmup, warmup + reps - 1)  # the first launch, the first and last timed ones
        problem, event_ms, wall_ms = verified_call(matmul, a, b, pinned, settle, timed=True)
        if problem:
            refuse(f"wrong result on launch {call + 1} of {warmup + reps} ({size}^3): {problem}")
        if call >= warmup:
            event_times.append(event_ms)
            wall_times.append(wall_ms)
    event, wall = statistics.median(event_times), statistics.median(wall_times)
    if not INTERPRET:
        refuse_unseen_work(event, wall)
    return event


def refuse_unseen_work(event_ms: float, wall_ms: float) -> None:
    """Refuses a run whose CUDA events saw far less time than the synchronised wall clock: the work ran on
    a stream the events were not recorded on (the wall time also holds the launch, hence the margin)."""
    if event_ms < MIN_EVENT_SHARE * wall_ms:
        refuse(
            f"CUDA events saw {event_ms:.4f} ms but the synchronised wall clock {wall_ms:.4f} ms: "
            "the work ran outside the timed stream"
        )
