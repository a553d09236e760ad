"""A straightforward one-pass statement of the cross rule, to check the incremental code against."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction


def reference_crosses(prices: Sequence[Decimal], short: int = 5, long: int = 20) -> list[tuple[int, str]]:
    """(index, signal) of every cross in the whole series, computed from scratch at each index."""
    crosses = []
    last_sign = 0
    for i in range(long - 1, len(prices)):
        sma_short = Fraction(sum(prices[i + 1 - short : i + 1])) / short
        sma_long = Fraction(sum(prices[i + 1 - long : i + 1])) / long
        sign = (sma_short > sma_long) - (sma_short < sma_long)
        if sign == 0:
            continue
        if last_sign and sign != last_sign:
            crosses.append((i, "GOLDEN_CROSS" if sign > 0 else "DEATH_CROSS"))
        last_sign = sign
    return crosses
