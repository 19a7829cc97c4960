"""A starter experiment for `autoresearch init`: replace it with your own.

Trains a one-hidden-layer network on a small synthetic regression task with numpy (offline, a few
seconds) using the candidate's parameters, and prints the validation loss every 50 steps: a curve
(`autoresearch show` draws it), whose last line is the value that counts.
"""

import json
import sys
from pathlib import Path

import numpy as np

params = json.loads(Path(sys.argv[sys.argv.index("--config") + 1]).read_text())
lr, hidden = float(params["lr"]), int(params["hidden"])

data = np.random.default_rng(0)  # the same data for every candidate
x = data.uniform(-2.0, 2.0, size=(600, 4))
y = np.sin(x[:, :1] * 1.5) + 0.5 * x[:, 1:2] * x[:, 2:3] + 0.1 * data.normal(size=(600, 1))
x_train, y_train, x_val, y_val = x[:400], y[:400], x[400:], y[400:]

init = np.random.default_rng(1)
w1 = init.normal(scale=0.5, size=(4, hidden))
b1 = np.zeros(hidden)
w2 = init.normal(scale=0.5 / np.sqrt(hidden), size=(hidden, 1))
b2 = np.zeros(1)


def val_loss() -> float:
    prediction = np.tanh(x_val @ w1 + b1) @ w2 + b2
    return float(np.mean((prediction - y_val) ** 2))


steps = 300
for step in range(1, steps + 1):
    h = np.tanh(x_train @ w1 + b1)
    error = (h @ w2 + b2 - y_train) * (2.0 / len(x_train))
    grad_h = (error @ w2.T) * (1.0 - h**2)
    grads = [x_train.T @ grad_h, grad_h.sum(axis=0), h.T @ error, error.sum(axis=0)]
    scale = min(1.0, 1.0 / (np.sqrt(sum(float((g**2).sum()) for g in grads)) + 1e-12))  # clip: no divergence
    for weight, grad in zip((w1, b1, w2, b2), grads, strict=True):
        weight -= lr * scale * grad
    if step % 50 == 0:
        print(f"val_loss: {val_loss():.6f}")
