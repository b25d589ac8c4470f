"""The Dask configuration shared by scheduler, workers and Jupyter, as a ConfigMap.

Only when ``dask_config`` is set. Each pod mounts it read-only and points
``DASK_CONFIG`` at it (:func:`dkgen.render.common.dask_config_env`); the
content hash on each pod template (:mod:`dkgen.render.rollout`) rolls the
pods when it changes, since Dask reads its configuration only at start.
Keys are sorted, so the same configuration is the same bytes however the
layers were ordered.
"""

from __future__ import annotations

import yaml

from dkgen.render.common import DASK_CONFIG_FILE, DASK_CONFIG_MAP, KubeObject, metadata
from dkgen.settings import Settings


def render_dask_config(settings: Settings) -> list[KubeObject]:
    if not settings.dask_config:
        return []
    text = yaml.safe_dump(
        settings.dask_config, default_flow_style=False, sort_keys=True, allow_unicode=True
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(DASK_CONFIG_MAP, "config"),
            "data": {DASK_CONFIG_FILE: text},
        }
    ]
