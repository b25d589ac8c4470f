"""The namespace must be dkgen's own, never one the cluster itself runs in.

dkgen's Namespace object enforces the restricted Pod Security Standard and
its NetworkPolicies select pods by label; applied to a namespace the cluster
or GKE uses, it would relabel that namespace (and ``cluster.sh delete``'s
clean-up would delete its Services). Refused: ``default``, and the prefixes
Kubernetes (``kube-``) and GKE (``gke-``, ``gmp-`` for Managed Service for
Prometheus) reserve for themselves, such as ``kube-system``,
``kube-public``, ``kube-node-lease``, ``gke-managed-system`` and
``gmp-system``.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import Locator
from dkgen.settings import Settings

RESERVED_NAMES = frozenset({"default"})
RESERVED_PREFIXES = ("kube-", "gke-", "gmp-")


def reserved(namespace: str) -> bool:
    """True for a namespace Kubernetes or GKE keeps for itself."""
    return namespace in RESERVED_NAMES or namespace.startswith(RESERVED_PREFIXES)


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    if reserved(settings.namespace):
        path = where.path(None, "namespace")
        yield Problem(
            where.origin(path),
            "namespace",
            f"{settings.namespace!r} belongs to Kubernetes or GKE; dkgen would relabel it "
            "(Pod Security, NetworkPolicies) and clean it up on delete",
            "give the deployment a namespace of its own, such as dask",
        )
