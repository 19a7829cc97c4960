"""The correctness guard: the kernel against torch.matmul on awkward shapes, at a tolerance.

Shapes that are not multiples of any block size (and a single row, a single column, a K shorter than
one tile) catch a kernel that drops a mask or mis-indexes the last tile, whatever its speed.
"""

import sys
import warnings

import torch
from common import DEVICE, DTYPE, config_from_args, need_device
from kernel import matmul

SHAPES = [(64, 64, 64), (100, 37, 53), (1, 130, 17), (129, 1, 200), (77, 150, 9), (257, 129, 65)]  # (M, N, K)


def main() -> None:
    config = config_from_args()
    need_device()
    # A wrong kernel's garbage overflows in the interpreter's NumPy; the verdict below says all there is.
    warnings.simplefilter("ignore", RuntimeWarning)
    torch.manual_seed(0)
    failures = []
    for m, n, k in SHAPES:
        a = torch.randn(m, k, device=DEVICE, dtype=DTYPE)
        b = torch.randn(k, n, device=DEVICE, dtype=DTYPE)
        expected = (a.float() @ b.float()).to(DTYPE)  # fp32 reference, rounded like the kernel's output
        got = matmul(a, b, **config)
        if got.shape != expected.shape:
            failures.append(f"{m}x{n}x{k}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
            continue
        error = (got.float() - expected.float()).abs().max().item()
        tolerance = 1e-2 * (1 + expected.float().abs().max().item())
        if not error <= tolerance:  # also catches NaN
            failures.append(f"{m}x{n}x{k}: max error {error:.3g} > {tolerance:.3g}")
    for line in failures:
        print(f"wrong result: {line}")
    if failures:
        sys.exit(1)
    print(f"correct on {len(SHAPES)} shapes")


if __name__ == "__main__":
    main()
