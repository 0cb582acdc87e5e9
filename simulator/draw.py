"""Random draws the simulation needs, on an explicit random.Random so every run is seeded."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


def rng_for(seed: int, *purpose: object) -> random.Random:
    """An independent stream per purpose: adding a new kind of draw never shifts the others.
    String seeds are hashed with SHA-512 by random, so this is stable across processes."""
    return random.Random("/".join(str(p) for p in (seed, *purpose)))


class Weighted(Generic[T]):
    """Weighted choice with precomputed cumulative weights (random.choices recomputes them)."""

    def __init__(self, weights: Mapping[T, float] | Sequence[tuple[T, float]]) -> None:
        pairs = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        pairs = [(item, float(w)) for item, w in pairs if float(w) > 0]
        if not pairs:
            raise ValueError("a weighted choice needs at least one positive weight")
        self.items = [item for item, _ in pairs]
        self.cumulative = list(itertools.accumulate(w for _, w in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]

    def share(self, item: T) -> float:
        index = self.items.index(item)
        low = self.cumulative[index - 1] if index else 0.0
        return (self.cumulative[index] - low) / self.total


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """Durations: positive, skewed, with a tail, parametrised by their median."""
    return median * math.exp(rng.gauss(0.0, sigma))


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation; Knuth's loop would take ~mean steps
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def between(rng: random.Random, bounds: Sequence[float]) -> float:
    low, high = bounds
    return rng.uniform(low, high)


def int_between(rng: random.Random, bounds: Sequence[int]) -> int:
    low, high = bounds
    return rng.randint(int(low), int(high))
