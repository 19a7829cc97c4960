"""Pack 26 circles in the unit square so that the sum of their radii is as large as possible.

construct() returns the centres and radii; run.py writes them for the scorer, which checks the packing
exactly (no overlap, inside the square, tolerance 0) and computes the sum itself.

The construction: a layout of rows, a penalty method that grows the circles while pushing them apart
(gradient ascent with Adam), then radii shrunk until the packing is strictly valid.
"""

import numpy as np

N = 26

# constants: begin (what the offline mutation operator, mutate.py, perturbs)
ROWS = (5, 5, 6, 5, 5)  # circles per row of the starting layout (they sum to N)
ROW_SHIFT = 0.5  # odd rows are shifted by this share of their spacing
MARGIN = 0.1  # distance of the outer rows and columns from the walls
JITTER = 0.01  # random displacement of the starting centres
SEED = 0  # seed of that displacement
START_RADIUS = 0.05  # every circle's radius at the start
STEPS = 800  # gradient steps of the penalty method
STEP_SIZE = 0.005  # Adam's step size
PENALTY = 20.0  # weight of the squared overlaps at the first step
PENALTY_GROWTH = 1.006  # the weight is multiplied by this after every step
# constants: end


def start_layout() -> tuple[np.ndarray, np.ndarray]:
    """Centres on ROWS rows, evenly spaced, odd rows shifted; small equal radii."""
    rng = np.random.default_rng(SEED)
    centres = []
    ys = np.linspace(MARGIN, 1 - MARGIN, len(ROWS))
    for row, (count, y) in enumerate(zip(ROWS, ys, strict=True)):
        xs = np.linspace(MARGIN, 1 - MARGIN, count)
        if row % 2 and count > 1:
            xs = xs + ROW_SHIFT * (xs[1] - xs[0]) / 2
        centres.extend((x, y) for x in xs)
    xy = np.clip(np.array(centres[:N], dtype=float), 0.0, 1.0)
    while len(xy) < N:  # fewer than N in ROWS: the rest start at random places
        xy = np.vstack([xy, rng.uniform(MARGIN, 1 - MARGIN, (1, 2))])
    xy = xy + rng.normal(0.0, JITTER, xy.shape)
    return np.clip(xy, 0.01, 0.99), np.full(N, START_RADIUS)


def violations_gradient(xy: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of the sum of squared overlaps (between circles and with the walls)."""
    diff = xy[:, None, :] - xy[None, :, :]
    dist = np.sqrt((diff**2).sum(-1)) + np.eye(N)
    overlap = np.triu(np.maximum(r[:, None] + r[None, :] - dist, 0.0), 1)
    overlap = overlap + overlap.T
    g_r = 2 * overlap.sum(1)
    g_xy = -2 * ((overlap / dist)[:, :, None] * diff).sum(1)
    for axis in (0, 1):
        low = np.maximum(r - xy[:, axis], 0.0)
        high = np.maximum(xy[:, axis] + r - 1.0, 0.0)
        g_r += 2 * (low + high)
        g_xy[:, axis] += 2 * (high - low)
    return g_xy, g_r


def optimise(xy: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximise sum(r) - penalty * squared overlaps, with the penalty growing every step."""
    params = np.concatenate([xy.ravel(), r])
    m = np.zeros_like(params)
    v = np.zeros_like(params)
    penalty = PENALTY
    for step in range(1, STEPS + 1):
        g_xy, g_r = violations_gradient(params[: 2 * N].reshape(N, 2), params[2 * N :])
        grad = penalty * np.concatenate([g_xy.ravel(), g_r])
        grad[2 * N :] -= 1.0  # the objective's own gradient: every radius wants to grow
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        params -= STEP_SIZE * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-12)
        params[2 * N :] = np.maximum(params[2 * N :], 0.0)
        penalty *= PENALTY_GROWTH
    return params[: 2 * N].reshape(N, 2), params[2 * N :]


def valid_radii(xy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Radii shrunk until no circle crosses a wall or another circle, with a margin for rounding."""
    xy = np.clip(xy, 0.0, 1.0)
    r = np.minimum(r, np.minimum(xy, 1 - xy).min(1))
    r = np.maximum(r, 0.0)
    for _ in range(100):
        worst = 1.0
        for i in range(N):
            for j in range(i + 1, N):
                d = float(np.hypot(*(xy[i] - xy[j])))
                if r[i] + r[j] > d:
                    scale = d / (r[i] + r[j])
                    r[i] *= scale
                    r[j] *= scale
                    worst = min(worst, scale)
        if worst == 1.0:
            break
    return r * (1 - 1e-9)


def construct() -> tuple[np.ndarray, np.ndarray]:
    xy, r = start_layout()
    xy, r = optimise(xy, r)
    return np.clip(xy, 0.0, 1.0), valid_radii(np.clip(xy, 0.0, 1.0), r)
