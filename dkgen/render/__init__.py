"""Stage 4, render: typed settings -> Kubernetes objects and script text, purely.

Each component is one small module with one function of :class:`Settings`
that returns plain data; :data:`COMPONENTS` lists them in output order. A new
component is one new module and one line here. The assembly renderers
(kustomization, cluster script, reviewer README) run after the components,
because they describe what the components produced.
"""

from __future__ import annotations

from collections.abc import Callable

from dkgen.render.common import KubeObject
from dkgen.render.jupyter import render_jupyter
from dkgen.render.namespace import render_namespace
from dkgen.render.scheduler import render_scheduler
from dkgen.render.serviceaccount import render_serviceaccount
from dkgen.render.workers import render_workers
from dkgen.settings import Settings

ComponentRenderer = Callable[[Settings], list[KubeObject]]

COMPONENTS: tuple[ComponentRenderer, ...] = (
    render_namespace,
    render_serviceaccount,
    render_scheduler,
    render_workers,
    render_jupyter,
)


def render_objects(settings: Settings) -> list[KubeObject]:
    """Every Kubernetes object of the deployment, in registry order."""
    return [obj for component in COMPONENTS for obj in component(settings)]
