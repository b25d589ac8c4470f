"""``dask_config`` must fit the ConfigMap it becomes.

Kubernetes stores at most 1 MiB of data in a ConfigMap
(:data:`dkgen.kube_rules.CONFIGMAP_MAX_BYTES`). Each settings file is
limited to 1 MiB, but ``dask_config`` merges over every layer, so two files
can add up to more; the API server would refuse the ConfigMap at apply time.
The size is measured on the ConfigMap the renderer builds
(:func:`dkgen.render.daskconfig.render_dask_config`), the way the API server
measures it (:func:`dkgen.kube_rules.configmap_bytes`).
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import Locator
from dkgen.kube_rules import CONFIGMAP_MAX_BYTES, configmap_bytes
from dkgen.render.daskconfig import render_dask_config
from dkgen.settings import Settings


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    for config_map in render_dask_config(settings):
        size = configmap_bytes(config_map)
        if size > CONFIGMAP_MAX_BYTES:
            path = where.path(None, "dask_config")
            yield Problem(
                where.origin(path),
                "dask_config",
                f"becomes a ConfigMap of {size} bytes; Kubernetes stores at most "
                f"{CONFIGMAP_MAX_BYTES} bytes in one",
                "keep large data out of Dask's configuration: put it in a file or bucket "
                "the pods read",
            )
