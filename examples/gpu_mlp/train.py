"""A small PyTorch MLP regression on synthetic data, on the GPU autoresearch assigns (CUDA_VISIBLE_DEVICES).

With `run.gpus = 0.5` (or 0.25) several experiments share a GPU; each keeps to the memory share
autoresearch gives it (AUTORESEARCH_GPU_MEMORY_FRACTION), so that one cannot starve the others.
Prints `val_loss: ...` for autoresearch and `device: ...` so the log shows where it ran.
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch


def main() -> None:
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    seed = int(os.environ.get("AUTORESEARCH_SEED", "0"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    share = os.environ.get("AUTORESEARCH_GPU_MEMORY_FRACTION")
    if share and device.type == "cuda":  # allocations beyond the share fail here, not in a neighbour
        torch.cuda.set_per_process_memory_fraction(float(share), device)
    torch.manual_seed(0)  # the data is fixed; only the model's initialisation follows the seed
    x = torch.randn(20_000, 32, device=device)
    w = torch.randn(32, 1, device=device)
    y = torch.sin(x @ w) + 0.1 * torch.randn(20_000, 1, device=device)
    x_train, y_train, x_val, y_val = x[:16_000], y[:16_000], x[16_000:], y[16_000:]

    torch.manual_seed(seed)
    width, depth = int(config["width"]), int(config["depth"])
    layers: list[torch.nn.Module] = []
    size = 32
    for _ in range(depth):
        layers += [torch.nn.Linear(size, width), torch.nn.GELU()]
        size = width
    model = torch.nn.Sequential(*layers, torch.nn.Linear(size, 1)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(config["lr"]), weight_decay=float(config["wd"]))
    start = time.perf_counter()
    for _ in range(int(config["steps"])):
        index = torch.randint(0, x_train.shape[0], (512,), device=device)
        loss = torch.nn.functional.mse_loss(model(x_train[index]), y_train[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        val = torch.nn.functional.mse_loss(model(x_val), y_val).item()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    where = f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')}"
    where += f", memory share {share}" if share else ""
    print(f"device: {name} ({where})", file=sys.stderr)
    print(f"train_seconds: {time.perf_counter() - start:.3f}")
    print(f"val_loss: {val:.6f}")


if __name__ == "__main__":
    main()
