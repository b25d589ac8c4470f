"""Typed, frozen settings objects, built once from the validated tree.

Renderers take these and never index raw dicts, so a renamed key is one
edit here rather than a hunt through every renderer. Field documentation
lives in the schema (``schema/settings.schema.json``); this module only
gives the validated values their shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dkgen.errors import Origin
from dkgen.quantity import memory_limit_bytes

DEFAULT_GROUP = "default"
CORE_POOL_NAME = "default-pool"


@dataclass(frozen=True)
class NodePool:
    """A GKE node pool that dkgen creates in ``cluster.sh``."""

    name: str
    machine_type: str
    disk_size: int
    num_nodes: int
    autoscaling: bool
    min_nodes: int
    max_nodes: int
    preemptible: bool


@dataclass(frozen=True)
class WorkerGroup:
    """One Deployment of identical Dask workers and the node pool they run on."""

    name: str
    count: int
    cpus: float
    memory: str
    mem_factor: float
    image: str
    env: tuple[tuple[str, str], ...]
    pool: NodePool

    @property
    def threads(self) -> int:
        """Threads per worker, as the original tool derived them."""
        return max(1, math.ceil(self.cpus))

    @property
    def memory_limit(self) -> int:
        """Dask's memory limit in bytes: ``mem_factor`` x container memory."""
        return memory_limit_bytes(self.memory, self.mem_factor)


@dataclass(frozen=True)
class Cluster:
    name: str
    project: str | None
    zone: str
    core_pool: NodePool


@dataclass(frozen=True)
class Scheduler:
    image: str
    cpus: float
    memory: str
    tcp_port: int
    dashboard_port: int


@dataclass(frozen=True)
class Jupyter:
    enabled: bool
    image: str
    cpus: float
    memory: str
    port: int
    token_secret: str


@dataclass(frozen=True)
class Exposure:
    """How one endpoint is reached from outside the cluster (``access.<name>``)."""

    name: str
    load_balancer: bool
    source_ranges: tuple[str, ...]
    whole_internet: bool

    @property
    def allowed_ranges(self) -> tuple[str, ...]:
        """The CIDR ranges that may connect through the load balancer."""
        return ("0.0.0.0/0",) if self.whole_internet else self.source_ranges


@dataclass(frozen=True)
class Access:
    scheduler: Exposure
    dashboard: Exposure
    jupyter: Exposure


@dataclass(frozen=True)
class PatchTarget:
    """kustomize's patch selector; each field an anchored regular expression,
    the two selectors Kubernetes label-selector syntax."""

    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None


@dataclass(frozen=True)
class Patch:
    """One entry of ``patches``: where it was written, what it selects, what it does."""

    index: int
    origin: Origin
    target: PatchTarget | None
    kind: Literal["strategic-merge", "json6902"]
    # A mapping (strategic merge) or a list of operations (JSON 6902), as parsed.
    body: Any

    @property
    def label(self) -> str:
        return f"patches[{self.index}]"


def _no_access() -> Access:
    closed = Exposure("", load_balancer=False, source_ranges=(), whole_internet=False)
    return Access(closed, closed, closed)


@dataclass(frozen=True)
class Settings:
    """Everything a renderer may read."""

    namespace: str
    cluster: Cluster
    scheduler: Scheduler
    workers: tuple[WorkerGroup, ...]
    jupyter: Jupyter
    access: Access = field(default_factory=_no_access)
    # Dask's own configuration tree, free-form (Dask defines it, not dkgen).
    dask_config: dict[str, Any] = field(default_factory=dict)
    patches: tuple[Patch, ...] = ()


def _exposure(name: str, tree: dict[str, Any]) -> Exposure:
    return Exposure(
        name=name,
        load_balancer=tree["expose"] == "load_balancer",
        source_ranges=tuple(tree["source_ranges"]),
        whole_internet=tree["allow_whole_internet"],
    )


def build_settings(tree: dict[str, Any], patches: Sequence[Patch] = ()) -> Settings:
    """Shape a schema-valid settings tree into :class:`Settings`.

    ``patches`` arrive parsed (``dkgen.patches``), because parsing them can
    fail with positions, which belongs to validation.
    """
    cluster = tree["cluster"]
    core = cluster["core_pool"]
    core_pool = NodePool(
        # GKE names a cluster's initial pool default-pool; no flag renames it.
        name=CORE_POOL_NAME,
        machine_type=core["machine_type"],
        disk_size=core["disk_size"],
        num_nodes=core["num_nodes"],
        autoscaling=False,
        min_nodes=core["num_nodes"],
        max_nodes=core["num_nodes"],
        preemptible=False,
    )
    workers = tree["workers"]
    default_group = WorkerGroup(
        name=DEFAULT_GROUP,
        count=workers["count"],
        cpus=workers["cpus_per_worker"],
        memory=workers["memory_per_worker"],
        mem_factor=workers["mem_factor"],
        image=workers["image"],
        env=tuple(sorted(workers["env"].items())),
        # The original tool's cluster.* keys describe the nodes the default
        # group's workers run on.
        pool=NodePool(
            name=f"workers-{DEFAULT_GROUP}",
            machine_type=cluster["machine_type"],
            disk_size=cluster["disk_size"],
            num_nodes=cluster["num_nodes"],
            autoscaling=cluster["autoscaling"],
            min_nodes=cluster["min_nodes"],
            max_nodes=cluster["max_nodes"],
            preemptible=cluster["preemptible"],
        ),
    )
    scheduler = tree["scheduler"]
    jupyter = tree["jupyter"]
    return Settings(
        namespace=tree["namespace"],
        cluster=Cluster(
            name=cluster["name"],
            project=cluster.get("project"),
            zone=cluster["zone"],
            core_pool=core_pool,
        ),
        scheduler=Scheduler(
            image=scheduler["image"],
            cpus=scheduler["cpus"],
            memory=scheduler["memory"],
            tcp_port=scheduler["tcp_port"],
            dashboard_port=scheduler["bokeh_port"],
        ),
        workers=(default_group,),
        jupyter=Jupyter(
            enabled=jupyter["enabled"],
            image=jupyter["image"],
            cpus=jupyter["cpus"],
            memory=jupyter["memory"],
            port=jupyter["port"],
            token_secret=jupyter["token_secret"],
        ),
        access=Access(
            scheduler=_exposure("scheduler", tree["access"]["scheduler"]),
            dashboard=_exposure("dashboard", tree["access"]["dashboard"]),
            jupyter=_exposure("jupyter", tree["access"]["jupyter"]),
        ),
        dask_config=tree["dask_config"],
        patches=tuple(patches),
    )
