"""The benchmark: times the kernel and torch.matmul (cuBLAS) on the same matrices; prints `ms` (the objective).

On a GPU: fp16, M = N = K = 4096, triton.testing.do_bench (warm-up, then the median of repeated
launches, each timed with CUDA events, the L2 cache flushed between them). Under TRITON_INTERPRET=1 on
CPU: fp32, 128 x 128 x 128, the median of 5 runs after one warm-up, timed by the wall clock. That number
times NumPy emulating the kernel, not the kernel: it only shows that the pipeline runs.
"""

import statistics
import time
from collections.abc import Callable

import torch
from common import DEVICE, DTYPE, INTERPRET, config_from_args, need_device
from kernel import matmul

SIZE = 128 if INTERPRET else 4096


def median_ms(fn: Callable[[], object]) -> float:
    if not INTERPRET:
        import triton.testing

        return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))
    fn()  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    config = config_from_args()
    need_device()
    torch.manual_seed(0)
    a = torch.randn(SIZE, SIZE, device=DEVICE, dtype=DTYPE)
    b = torch.randn(SIZE, SIZE, device=DEVICE, dtype=DTYPE)
    ms = median_ms(lambda: matmul(a, b, **config))
    torch_ms = median_ms(lambda: torch.matmul(a, b))
    print(f"device: {torch.cuda.get_device_name() if not INTERPRET else 'cpu (Triton interpreter)'}")
    print(f"tflops: {2 * SIZE**3 / (ms * 1e-3) / 1e12:.3f}")
    print(f"torch_ms: {torch_ms:.4f}")
    print(f"speedup_vs_torch: {torch_ms / ms:.4f}")
    print(f"ms: {ms:.4f}")


if __name__ == "__main__":
    main()
