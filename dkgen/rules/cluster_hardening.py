"""The GKE cluster's own hardening: private nodes, their egress, the control plane.

- Private nodes have no public IP address, so they reach ``ghcr.io`` and
  other registries only through a NAT: ``cluster.egress: none`` with any
  private node pool is refused (at ``cluster.egress``).
- ``cluster.control_plane.endpoint: ip`` needs ``authorized_networks``:
  without them the IP endpoint answers every address, which takes
  ``allow_internet: true`` (a warning on every build). Each network is a
  CIDR range without host bits; ``0.0.0.0/0`` (or ranges that add up to
  the whole internet) only with ``allow_internet: true``.
- With ``endpoint: dns`` the IP endpoint is off, so ``authorized_networks``
  and ``allow_internet`` would mean nothing: setting them is refused, as
  a setting that silently does nothing would mislead a reviewer.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.rules.source_ranges import cidr_problems, covers_everyone
from dkgen.settings import Settings

READS: tuple[KeyPath, ...] = (
    ("cluster",),
    ("worker_groups",),
)

_PLANE = ("cluster", "control_plane")
_NETWORKS = (*_PLANE, "authorized_networks")
_INTERNET = (*_PLANE, "allow_internet")
_ENDPOINT = (*_PLANE, "endpoint")


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _egress(settings, where)
    yield from _control_plane(settings, where)


def _egress(settings: Settings, where: Locator) -> Iterator[Problem]:
    cluster = settings.cluster
    if cluster.egress != "none":
        return
    pools = [cluster.core_pool, *(group.pool for group in settings.workers)]
    private = [pool.name for pool in pools if pool.private_nodes]
    if not private:
        return
    path = ("cluster", "egress")
    yield Problem(
        where.origin(path),
        format_path(path),
        f"private nodes ({', '.join(private)}) have no way to the internet: they could "
        "not pull images from ghcr.io",
        "set cluster.egress: cloud_nat (or existing, when the network already has a NAT), "
        "or private_nodes: false where nodes may have public IP addresses",
    )


def _control_plane(settings: Settings, where: Locator) -> Iterator[Problem]:
    plane = settings.cluster.control_plane
    if plane.endpoint == "dns":
        if plane.authorized_networks:
            yield Problem(
                where.origin(_NETWORKS),
                format_path(_NETWORKS),
                "authorized networks guard the IP endpoint, which endpoint: dns turns off",
                f"remove {format_path(_NETWORKS)}, or set {format_path(_ENDPOINT)}: ip",
            )
        if plane.allow_internet:
            yield Problem(
                where.origin(_INTERNET),
                format_path(_INTERNET),
                "allow_internet opens the IP endpoint, which endpoint: dns turns off",
                f"remove {format_path(_INTERNET)}, or set {format_path(_ENDPOINT)}: ip",
            )
        return
    for index, text in enumerate(plane.authorized_networks):
        yield from cidr_problems(
            where, (*_NETWORKS, index), text, allowed=plane.allow_internet, allow_path=_INTERNET
        )
    everyone = covers_everyone(plane.authorized_networks)
    if everyone and not plane.allow_internet:
        yield Problem(
            where.origin(_NETWORKS),
            format_path(_NETWORKS),
            f"the networks together are the whole internet ({everyone})",
            f"set {format_path(_INTERNET)}: true instead, if that is what you mean; else "
            "list only the networks that run kubectl",
        )
    if plane.allow_internet:
        yield Problem(
            where.origin(_INTERNET),
            format_path(_INTERNET),
            "the control plane's IP endpoint answers every address on the internet "
            "(credentials still guard it)",
            f"list the networks that run kubectl in {format_path(_NETWORKS)}, or use "
            f"{format_path(_ENDPOINT)}: dns",
            severity="warning",
        )
    elif not plane.authorized_networks:
        yield Problem(
            where.origin(_ENDPOINT),
            format_path(_ENDPOINT),
            "the IP endpoint needs authorized networks: without them it answers every "
            "address on the internet",
            f"add {format_path(_NETWORKS)}: [203.0.113.0/24] (where kubectl runs), set "
            f"{format_path(_INTERNET)}: true to mean everyone, or use endpoint: dns",
        )
