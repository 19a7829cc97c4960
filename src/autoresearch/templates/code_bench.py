"""Times src/hot.py (protected: a candidate cannot change how it is measured).

CPU time (time.process_time) of the fastest of a few loops: other jobs on the machine barely move it.
"""

import sys
import time

sys.path.insert(0, "src")
from hot import sum_of_squares

N = 200_000
if sum_of_squares(N) != (N - 1) * N * (2 * N - 1) // 6:
    sys.exit("sum_of_squares gave a wrong answer")  # a wrong answer is a failure, never a fast time
best = float("inf")
for _ in range(5):
    start = time.process_time()
    sum_of_squares(N)
    best = min(best, time.process_time() - start)
print(f"seconds: {best:.6f}")
