"""Jupyter's home: warn when notebooks would not survive the pod.

With ``jupyter.home.volume: empty_dir`` the notebook home is scratch space
that Kubernetes deletes with the pod, and the pod is replaced more often
than people expect: a node upgrade or repair, an image bump, a resource
change, and any ``dask_config`` change (its hash annotation rolls the
Jupyter pod). Every one of those loses every notebook saved in Jupyter. The
default, ``persistent``, keeps the home on a PersistentVolumeClaim
(``render/jupyter_home.py``).

The persistent home is a ReadWriteOnce disk, which only a ``Recreate``
Deployment can hand from the old pod to the new one: a RollingUpdate starts
the new pod first, and on another node it waits for the disk forever. dkgen
writes ``Recreate``; a patch that changes the Jupyter Deployment's strategy
while the home is persistent is an **error** at that patch.

::

    settings.yaml:9:13: warning: jupyter.home.volume: Jupyter's home is an emptyDir ...
      hint: set jupyter.home.volume: persistent (the default) ...
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem, SettingsError
from dkgen.keypath import Locator, format_path
from dkgen.render import COMPONENTS
from dkgen.render.common import KubeObject
from dkgen.render.patches import apply_patches
from dkgen.settings import Settings

JUPYTER_DEPLOYMENT = "jupyter"


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    jupyter = settings.jupyter
    if not jupyter.enabled:
        return
    if jupyter.home.persistent:
        yield from _strategy_kept(settings)
        return
    path = where.path(None, "jupyter.home.volume")
    yield Problem(
        where.origin(path),
        format_path(path),
        "Jupyter's home is an emptyDir: every notebook saved there is lost when the pod is "
        "replaced (a node upgrade, an image bump, a dask_config change)",
        "set jupyter.home.volume: persistent (the default) to keep notebooks on a persistent disk",
        severity="warning",
    )


def _strategy(objects: list[KubeObject]) -> object:
    for obj in objects:
        metadata = obj.get("metadata")
        if obj.get("kind") == "Deployment" and isinstance(metadata, dict):
            if metadata.get("name") != JUPYTER_DEPLOYMENT:
                continue
            # The schema lets a patch write null for either (the API server's default).
            spec, strategy = obj.get("spec"), None
            if isinstance(spec, dict):
                strategy = spec.get("strategy")
            if isinstance(strategy, dict) and strategy.get("type"):
                return strategy["type"]
            return "RollingUpdate"
    return None  # a patch deleted it: nothing mounts the disk


def _strategy_kept(settings: Settings) -> Iterator[Problem]:
    """The first patch after which Jupyter's Deployment no longer recreates, if any."""
    if not settings.patches:
        return
    objects = [obj for component in COMPONENTS for obj in component(settings)]
    try:
        if _strategy(apply_patches(objects, settings.patches)) in {"Recreate", None}:
            return
        # Rare: find the patch, one prefix at a time.
        for count, patch in enumerate(settings.patches, start=1):
            strategy = _strategy(apply_patches(objects, settings.patches[:count]))
            if strategy not in {"Recreate", None}:
                yield Problem(
                    patch.origin,
                    patch.label,
                    f"makes the Jupyter Deployment's strategy {strategy}, but its home is a "
                    "ReadWriteOnce disk that only Recreate hands from the old pod to the new",
                    "remove the strategy from the patch, or set jupyter.home.volume: empty_dir",
                )
                return
    except SettingsError:
        return  # a patch that cannot apply is reported by the render stage, at the patch
