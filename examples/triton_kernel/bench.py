"""The benchmark: times the kernel and torch.matmul (cuBLAS) on matrices of the same size; prints `ms`.

On a GPU: fp16, M = N = K = 4096, 10 warm-up launches then the median of 100, each timed with CUDA
events after an L2 flush and closed by a device-wide synchronisation. Under TRITON_INTERPRET=1 on CPU:
fp32, 128 x 128 x 128, the median of 5 runs after one warm-up, timed by the wall clock. That number
times NumPy emulating the kernel, not the kernel: it only shows that the pipeline runs.

Every launch, warm-up or timed, gets fresh random inputs and its result is verified (common.py), so a
kernel cannot cache answers, tell timed calls from others, or leave work running past the timing window.
"""

import torch
from common import INTERPRET, Pinned, config_from_args, load_matmul, need_device, time_launches

SIZE = 128 if INTERPRET else 4096
WARMUP, REPS = (1, 5) if INTERPRET else (10, 100)


def main() -> None:
    pinned = Pinned()  # before kernel.py is imported: its clocks are bench.py's, not the kernel's
    config = config_from_args()
    need_device()
    matmul = load_matmul(pinned)
    ms = time_launches(lambda a, b: matmul(a, b, **config), SIZE, WARMUP, REPS, pinned)
    torch_ms = time_launches(torch.matmul, SIZE, WARMUP, REPS, pinned)
    pinned.verify("after the timed launches")
    print(f"device: {torch.cuda.get_device_name() if not INTERPRET else 'cpu (Triton interpreter)'}")
    print(f"tflops: {2 * SIZE**3 / (ms * 1e-3) / 1e12:.3f}")
    print(f"torch_ms: {torch_ms:.4f}")
    print(f"speedup_vs_torch: {torch_ms / ms:.4f}")
    print(f"ms: {ms:.4f}")


if __name__ == "__main__":
    main()
