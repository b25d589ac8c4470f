"""Source ranges that together admit the whole internet are the whole internet.

``0.0.0.0/0`` written as one range is refused without
``allow_whole_internet: true`` (dkgen/validate.py); so are ranges that add
up to it, such as ``0.0.0.0/1`` and ``128.0.0.0/1``: their union, computed by
:func:`ipaddress.collapse_addresses`, is what the load balancer and the
NetworkPolicy admit. The same holds for IPv6 and ``::/0``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.settings import Exposure, Settings

_EVERYONE_V4 = ipaddress.IPv4Network("0.0.0.0/0")
_EVERYONE_V6 = ipaddress.IPv6Network("::/0")


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    # A range that is no network at all is the access rule's to report.
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def cidr_problems(
    where: Locator, path: KeyPath, text: str, *, allowed: bool, allow_path: KeyPath
) -> Iterator[Problem]:
    """One range of a list (load-balancer source ranges, the control plane's
    authorized networks): a CIDR range without host bits, and the whole
    internet only when ``allowed`` (the setting at ``allow_path`` says so)."""
    origin, dotted = where.origin(path), format_path(path)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        yield Problem(
            origin,
            dotted,
            f"{text!r} is not a CIDR range",
            "write an address and a prefix length, such as 203.0.113.0/24",
        )
        return
    if str(network) != text:
        yield Problem(
            origin,
            dotted,
            f"{text!r} has host bits set after the /{network.prefixlen}",
            f"write {network}",
        )
    elif network.prefixlen == 0 and not allowed:
        yield Problem(
            origin,
            dotted,
            f"{text} is the whole internet",
            f"set {format_path(allow_path)}: true instead, if that is what you mean",
        )


def covers_everyone(ranges: tuple[str, ...]) -> str | None:
    """The whole-internet network (``0.0.0.0/0`` or ``::/0``) that ``ranges``
    add up to, when more than one range is needed for it; else None."""
    networks = [network for text in ranges if (network := _network(text)) is not None]
    if any(network.prefixlen == 0 for network in networks):
        return None  # written whole: the access rule says so at that range
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    if len(v4) > 1 and _EVERYONE_V4 in ipaddress.collapse_addresses(v4):
        return str(_EVERYONE_V4)
    if len(v6) > 1 and _EVERYONE_V6 in ipaddress.collapse_addresses(v6):
        return str(_EVERYONE_V6)
    return None


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    exposures: tuple[Exposure, ...] = (
        settings.access.scheduler,
        settings.access.dashboard,
        settings.access.jupyter,
    )
    for exposure in exposures:
        if exposure.whole_internet or not exposure.source_ranges:
            continue
        everyone = covers_everyone(exposure.source_ranges)
        if everyone is None:
            continue
        path = where.path(None, f"access.{exposure.name}.source_ranges")
        yield Problem(
            where.origin(path),
            format_path(path),
            f"the ranges together are the whole internet ({everyone})",
            f"set access.{exposure.name}.allow_whole_internet: true instead, if that is what "
            "you mean; else list only the networks that need access",
        )
