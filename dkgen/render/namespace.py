"""The Namespace that holds every generated object."""

from __future__ import annotations

from dkgen.render.common import KubeObject
from dkgen.settings import Settings


def render_namespace(settings: Settings) -> list[KubeObject]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.namespace}}]
