"""Kubernetes resource quantities: parse memory strings, format CPU amounts.

Exact decimal arithmetic, because the numbers end up in manifests and a
float rounding difference between machines would break byte-identical output.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def memory_bytes(quantity: str) -> Decimal:
    """``"6800Mi"`` -> 7130316800. The schema has already checked the shape."""
    for suffix, factor in (*_BINARY.items(), *_DECIMAL.items()):
        if quantity.endswith(suffix):
            return Decimal(quantity[: -len(suffix)]) * factor
    return Decimal(quantity)


def millicores(cpus: float) -> Decimal:
    """CPUs as an exact count of millicores (``1.8`` -> ``1800``)."""
    return Decimal(str(cpus)) * 1000


def cpu_quantity(cpus: float) -> str:
    """The canonical Kubernetes spelling: whole cores as ``"2"``, else ``"1800m"``."""
    milli = millicores(cpus)
    if milli % 1000 == 0:
        return str(int(milli // 1000))
    return f"{int(milli)}m"


def memory_limit_bytes(memory: str, factor: float) -> int:
    """Dask's ``--memory-limit``: ``factor`` x container memory, rounded down to a byte."""
    product = memory_bytes(memory) * Decimal(str(factor))
    return int(product.to_integral_value(rounding=ROUND_FLOOR))
