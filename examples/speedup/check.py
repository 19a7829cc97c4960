"""Protected correctness check (the guard): count_primes must stay right."""

from hot import count_primes

# Small cases, a prime's two sides (997 is the 168th prime) and one larger n: enough to catch a wrong
# bound, and cheap to run on the slow baseline (the guard runs with every measured run of a candidate).
KNOWN = {0: 0, 1: 0, 2: 0, 3: 1, 10: 4, 100: 25, 997: 167, 998: 168, 3000: 430}
for n, expected in KNOWN.items():
    got = count_primes(n)
    assert got == expected, f"count_primes({n}) = {got}, expected {expected}"
print("ok")
