"""Find the shipped data: the schema, the default base, the overlays, the machine and price tables.

In a wheel they sit in ``dkgen/_data/``; in a source checkout (and an
editable install) they are the top-level ``schema/``, ``bases/``,
``overlays/`` and ``data/`` folders beside the package. Both spellings resolve here, once.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def data_root() -> Path:
    packaged = _PACKAGE / "_data"
    if (packaged / "schema").is_dir():
        return packaged
    return _PACKAGE.parent


def schema_path() -> Path:
    return data_root() / "schema" / "settings.schema.json"


def default_base_path() -> Path:
    return data_root() / "bases" / "default.yaml"


def overlays_dir() -> Path:
    return data_root() / "overlays"


def machine_types_path() -> Path:
    """Compute Engine machine facts for the capacity checks (:mod:`dkgen.capacity`).

    This and :func:`prices_path` are the reviewed YAML; dkgen reads each one's
    JSON copy beside it (``.json``, written by tools/compile_tables.py)."""
    return data_root() / "data" / "machine-types.yaml"


def prices_path() -> Path:
    """Google Cloud list prices for ``dkgen plan``'s cost (:mod:`dkgen.capacity.cost`)."""
    return data_root() / "data" / "prices.yaml"


def rapids_dask_path() -> Path:
    """Which Dask release each RAPIDS release pins, for :mod:`dkgen.rules.versions`."""
    return data_root() / "data" / "rapids-dask.yaml"


def kubernetes_schema_path() -> Path:
    """The Kubernetes schemas patched objects are checked against (:mod:`dkgen.kube_schema`)."""
    return data_root() / "data" / "kubernetes-schema.json"


def shipped_overlays() -> list[str]:
    return sorted(p.stem for p in overlays_dir().glob("*.yaml"))


@functools.cache
def load_schema() -> dict[str, Any]:
    """The settings schema, parsed once per process."""
    with schema_path().open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema
