"""Words for numbers: how the PDF judges a computed value.

Every sentence of the homework that judges a number ("agree to within 10%", "at rounding level",
"far above") takes its wording from one of these functions, applied to the number the sentence
prints. The thresholds live here, once, and ``tests/test_what_a_grader_sees.py`` checks each
function on both sides of every threshold and checks the built PDF against them.

The phrases are plain text (the engine escapes them for LaTeX: ``%`` prints as a percent sign).
"""

from __future__ import annotations

import math

FLOAT64_EPS = 2.0**-52

AGREEMENT_LEVELS = ((1.10, "within 10%"), (1.25, "within 25%"), (2.0, "within a factor of two"))
"""``(largest factor, phrase)``: a ratio r agrees at the first level with max(r, 1/r) <= factor."""


def deviation_factor(ratio: float) -> float:
    """``max(r, 1/r)``: how many times apart two positive numbers with ratio ``r`` are.

    A ratio that is not a positive finite number is infinitely far from 1.
    """
    if not (math.isfinite(ratio) and ratio > 0):
        return math.inf
    return max(ratio, 1 / ratio)


def agreement(ratio: float) -> str:
    """How well a measured value agrees with its prediction, from ``ratio = measured/predicted``.

    ``"within 10%"``, ``"within 25%"``, ``"within a factor of two"`` or
    ``"more than a factor of two apart"``; the sentence reads "agree(s) <phrase>" or
    "a ratio of 1.06: agreement <phrase>".
    """
    factor = deviation_factor(ratio)
    for limit, phrase in AGREEMENT_LEVELS:
        if factor <= limit:
            return phrase
    return "more than a factor of two apart"


def agrees(ratio: float, limit: float = 2.0) -> bool:
    """Whether ``ratio`` is within a factor ``limit`` of 1."""
    return deviation_factor(ratio) <= limit


def at_rounding(difference: float, scale: float, ulps: float = 1000.0) -> bool:
    """Whether ``difference`` is rounding error for float64 numbers of size ``scale``.

    Rounding level means at most ``ulps`` float64 epsilons of ``scale``: a few thousand
    operations, each off by half an epsilon, stay below it; any mistake in a formula is far above.
    """
    return abs(difference) <= ulps * FLOAT64_EPS * max(abs(scale), math.ulp(0.0))


def times(ratio: float) -> str:
    """``ratio`` as "1.5 times", "18 times" (2 significant digits, at least the units)."""
    if ratio >= 10:
        return f"{ratio:.0f} times"
    return f"{ratio:.2g} times" if ratio >= 1 else f"{ratio:.2f} times"


def relation(measured: float, reference: float, close: float = 2.0) -> str:
    """Where ``measured`` sits against ``reference`` (both positive): ``"far above"`` (more than
    ``close`` times it), ``"close to"`` (within a factor ``close``) or ``"far below"``."""
    if reference <= 0 or not math.isfinite(measured / reference):
        return "not comparable to"
    ratio = measured / reference
    if ratio > close:
        return "far above"
    if ratio < 1 / close:
        return "far below"
    return "close to"


def proportionality(exponent: float, tolerance: float = 0.15) -> str:
    """A fitted power law ``y ~ x**exponent`` against the predicted ``y ~ x``.

    ``"proportional"`` when the exponent is within ``tolerance`` of 1, ``"roughly proportional"``
    within twice that, ``"not proportional"`` otherwise.
    """
    if abs(exponent - 1) <= tolerance:
        return "proportional"
    if abs(exponent - 1) <= 2 * tolerance:
        return "roughly proportional"
    return "not proportional"
