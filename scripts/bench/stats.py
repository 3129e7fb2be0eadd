"""What the benchmark scripts' reports share (imported by their Python parts)."""
import math
import statistics


def median_ci(values):
    """The median of `values` and a 95% confidence interval for it, distribution-free: the
    order statistics [x(k), x(n+1-k)] with the largest k whose two tails hold at most 2.5% each
    of Binomial(n, 1/2). The interval is None when there are too few values (n < 6) for one."""
    xs = sorted(values)
    n, k, tail = len(xs), 0, 0.0
    while k < n and tail + math.comb(n, k) / 2**n <= 0.025:
        tail, k = tail + math.comb(n, k) / 2**n, k + 1
    return statistics.median(xs), ((xs[k - 1], xs[n - k]) if k >= 1 else None)
