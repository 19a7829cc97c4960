"""What bench.py and check.py share: the device, the dtype, the launch settings of a run."""

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch

# No GPU: Triton's interpreter runs the kernel on the CPU with NumPy (correct, but no timing means anything).
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cpu" if INTERPRET else "cuda"
# fp16 in, fp32 accumulation on a GPU (what tensor cores do); the interpreter computes in fp32.
DTYPE = torch.float32 if INTERPRET else torch.float16


def config_from_args() -> dict[str, Any]:
    """The params-mode study's values (`--config params.json`), or nothing: kernel.py's CONFIG."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    return json.loads(args.config.read_text()) if args.config else {}


def need_device() -> None:
    if not INTERPRET and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run on a GPU, or set TRITON_INTERPRET=1 for a correctness-only run on CPU")
