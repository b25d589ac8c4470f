"""Cloud Storage access: what ``gcs.access`` needs, and what ``auto`` chooses.

- ``workload_identity`` needs ``cluster.project`` (its pool is
  ``PROJECT.svc.id.goog``).
- ``gcs.buckets`` grants roles to the account pods act as: the Workload
  Identity account, or under ``node_scopes`` the nodes' own (issue 21), so
  access must not be ``none``.
- A warning when ``auto`` falls back to the nodes' broad cloud-platform
  scope because ``cluster.project`` is unset.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator
from dkgen.rules.conflict import conflict, order
from dkgen.settings import Settings, resolve_gcs_mode

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_gcs(where)
    yield from _gcs_fallback(where)


def _check_gcs(where: Locator) -> Iterator[Problem]:
    gcs = where.data["gcs"]
    project = where.data["cluster"]["project"]
    mode = resolve_gcs_mode(gcs["access"], project)
    if gcs["access"] == "workload_identity" and not project:
        yield conflict(
            where,
            order(where, [("gcs", "access"), ("cluster", "project")]),
            "Workload Identity needs the project ID (its pool is PROJECT.svc.id.goog)",
            "set cluster.project",
        )
    if gcs["buckets"] and mode == "none":
        yield conflict(
            where,
            order(where, [("gcs", "buckets"), ("gcs", "access")]),
            "bucket roles are granted to the account pods act as (Workload Identity's, or "
            "the nodes' under node_scopes), but gcs.access is none",
            "set gcs.access: auto, workload_identity or node_scopes, or remove gcs.buckets",
        )


def _gcs_fallback(where: Locator) -> Iterator[Problem]:
    """Say so when ``auto`` falls back to the nodes' broad cloud-platform scope."""
    if where.data["gcs"]["access"] == "auto" and not where.data["cluster"]["project"]:
        yield Problem(
            where.origin(("cluster", "project")),
            "gcs.access",
            "cluster.project is not set, so pods reach Cloud Storage through the nodes' "
            "cloud-platform scope (as the original tool did)",
            "set cluster.project for Workload Identity, or gcs.access: node_scopes to "
            "choose this explicitly",
            severity="warning",
        )
