"""The correctness guard: the kernel against torch.matmul on awkward shapes, at a tolerance.

Shapes that are not multiples of any block size (and a single row, a single column, a K shorter than
one tile) catch a kernel that drops a mask or mis-indexes the last tile, whatever its speed. Each shape
is drawn twice, fresh each time, so a kernel that remembers an answer is wrong the second time; the
guards in common.py refuse a kernel that writes into its inputs, finishes its work after returning, or
replaces the clocks and checks.
"""

import warnings

from common import Pinned, config_from_args, load_matmul, need_device, random_inputs, verified_call

# (M, N, K); a tuple, and pinned: a kernel can neither empty it nor swap it.
SHAPES = ((64, 64, 64), (100, 37, 53), (1, 130, 17), (129, 1, 200), (77, 150, 9), (257, 129, 65))
DRAWS = 2  # fresh inputs per shape


def main() -> None:
    pinned = Pinned()  # before kernel.py is imported
    config = config_from_args()
    need_device()
    matmul = load_matmul(pinned)
    # A wrong kernel's garbage overflows in the interpreter's NumPy; the verdict below says all there is.
    warnings.simplefilter("ignore", RuntimeWarning)
    failures = []
    for m, n, k in SHAPES:
        for _ in range(DRAWS):
            a, b = random_inputs(m, n, k)
            problem, _, _ = verified_call(lambda a, b: matmul(a, b, **config), a, b, pinned, settle=True)
            if problem:
                failures.append(f"{m}x{n}x{k}: {problem}")
                break
    pinned.verify("after the calls")
    for line in failures:
        print(f"wrong result: {line}")
    if failures:
        raise SystemExit(1)
    print(f"correct on {len(SHAPES)} shapes, {DRAWS} fresh draws each")


if __name__ == "__main__":
    main()
