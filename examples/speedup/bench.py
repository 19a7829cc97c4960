"""Protected benchmark: times count_primes and prints `seconds: ...` (the objective)."""

import time

from hot import count_primes

N = 6000
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    count_primes(N)
    best = min(best, time.perf_counter() - start)
print(f"seconds: {best:.6f}")
