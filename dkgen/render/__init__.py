"""Stage 4, render: typed settings -> Kubernetes objects and script text, purely.

Each component is one small module with one function of :class:`Settings`
that returns plain data; :data:`COMPONENTS` lists them in output order. A new
component is one new module and one line here. :func:`render_objects` then
finishes the objects in three steps that apply to all of them: every
namespaced object gets the namespace, the user's patches apply
(:mod:`dkgen.render.patches`), and pod templates get the hash of the
ConfigMaps they read (:mod:`dkgen.render.rollout`). The assembly renderers
(kustomization, cluster script, reviewer README) run after that, because they
describe what the components produced.
"""

from __future__ import annotations

from collections.abc import Callable

from dkgen.errors import Problem
from dkgen.render.autoscaling import render_autoscaling
from dkgen.render.common import KubeObject, in_namespace
from dkgen.render.daskconfig import render_dask_config
from dkgen.render.jupyter import render_jupyter
from dkgen.render.jupyter_home import render_jupyter_home
from dkgen.render.loadbalancers import render_load_balancers
from dkgen.render.monitoring import render_monitoring
from dkgen.render.namespace import render_namespace
from dkgen.render.networkpolicy import render_network_policies
from dkgen.render.patches import apply_patches, dry_run
from dkgen.render.poddisruptionbudget import render_pod_disruption_budgets
from dkgen.render.rollout import stamp_config_hashes
from dkgen.render.scheduler import render_scheduler
from dkgen.render.serviceaccount import render_serviceaccount
from dkgen.render.workers import render_workers
from dkgen.settings import Settings

ComponentRenderer = Callable[[Settings], list[KubeObject]]

COMPONENTS: tuple[ComponentRenderer, ...] = (
    render_namespace,
    render_serviceaccount,
    render_dask_config,
    render_scheduler,
    render_workers,
    render_jupyter_home,
    render_autoscaling,
    render_jupyter,
    render_load_balancers,
    render_network_policies,
    render_pod_disruption_budgets,
    render_monitoring,
)

# The only cluster-scoped kind dkgen generates.
_CLUSTER_SCOPED = frozenset({"Namespace"})


def generated_objects(settings: Settings) -> list[KubeObject]:
    """Every Kubernetes object the components generate, in registry order, unpatched."""
    return [
        obj if obj["kind"] in _CLUSTER_SCOPED else in_namespace(obj, settings.namespace)
        for component in COMPONENTS
        for obj in component(settings)
    ]


def render_objects(settings: Settings) -> list[KubeObject]:
    """Every Kubernetes object of the deployment, in registry order, patched."""
    return stamp_config_hashes(apply_patches(generated_objects(settings), settings.patches))


def dry_patch_problems(settings: Settings) -> list[Problem]:
    """What applying ``settings.patches`` to the generated objects would meet
    (validation runs this, so that rendering never refuses a patch)."""
    if not settings.patches:
        return []
    # Imported here: dkgen.rules imports this package (patch safety).
    from dkgen.rules.versions import patched_image_problems  # noqa: PLC0415

    objects = generated_objects(settings)
    patched, problems, touched = dry_run(objects, settings.patches)
    if problems:
        return problems
    # dkgen's own rules on the patched result: a patch must not swap an image
    # for another Dask release or Python (the one-version rule).
    return patched_image_problems(settings, objects, patched, touched)
