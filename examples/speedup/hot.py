"""The function to speed up: count the primes below n. Deliberately slow.

autoresearch may edit only the region between the markers below.
"""


# autoresearch: begin
def count_primes(n: int) -> int:
    count = 0
    for candidate in range(2, n):
        is_prime = True
        for divisor in range(2, candidate):
            if candidate % divisor == 0:
                is_prime = False
        if is_prime:
            count += 1
    return count


# autoresearch: end
