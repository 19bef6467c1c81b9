"""Kubernetes resource quantities (``500m``, ``1.5``, ``128Mi``, ``1e3``, ``2Gi``) as exact numbers.

Fractions are kept exact (``Fraction``), as resource.Quantity is, so ``0.1`` CPU
is 100 millicores and never 99.99...; callers take what unit they need:
``milli_value`` for CPU, ``value`` (rounded up, as Quantity.Value does) for
bytes and counts.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from kubelite.errors import Invalid

_SUFFIX = {
    "": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_RE = re.compile(r"^([+-]?[0-9]*\.?[0-9]*)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


def parse_quantity(q: str | int | float) -> Fraction:
    """The exact value of a quantity; ``Invalid`` with Kubernetes' wording for anything else."""
    if isinstance(q, bool):
        raise Invalid(f"quantities must match the regular expression: {q!r}")
    if isinstance(q, int):
        return Fraction(q)
    if isinstance(q, float):
        return Fraction(str(q))
    m = _RE.match(str(q).strip())
    if not m or m.group(1) in ("", "+", "-", ".", "+.", "-."):
        raise Invalid("quantities must match the regular expression "
                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number = Fraction(m.group(1))
    if m.group(2):
        return number * Fraction(10) ** int(m.group(2)[1:])
    return number * _SUFFIX[m.group(3) or ""]


def milli_value(q: str | int | float) -> int:
    """Thousandths, rounded up (CPU millicores)."""
    return math.ceil(parse_quantity(q) * 1000)


def value(q: str | int | float) -> int:
    """The integer value, rounded up (bytes, counts)."""
    return math.ceil(parse_quantity(q))
