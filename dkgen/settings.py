"""Typed, frozen settings objects, built once from the validated tree.

Renderers take these and never index raw dicts, so a renamed key is one
edit here rather than a hunt through every renderer. Field documentation
lives in the schema (``schema/settings.schema.json``); this module gives the
validated values their shape and applies the two derivation rules the
schema documents:

* a named worker group inherits every unset key from the default group
  (``workers.*`` for the pods, ``cluster.*`` for the node pool), and its
  ``env`` merges over ``workers.env``;
* a group whose nodes have GPUs declares the Dask resource ``GPU`` (its
  GPUs per worker process) unless its resources name ``GPU`` themselves;
* ``monitoring.scraper_namespace: null`` means GKE's ``gmp-system`` for
  managed collection and ``monitoring`` for a prometheus-operator;
* ``gcs.access: auto`` means Workload Identity when ``cluster.project`` is
  set (its pool and service account need the project ID) and the nodes'
  ``cloud-platform`` scope otherwise, as the original tool did.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from dkgen.errors import Origin
from dkgen.quantity import memory_limit_bytes
from dkgen.records import dataclass, field

DEFAULT_GROUP = "default"
# GKE names a cluster's initial pool default-pool; no gcloud flag renames it.
CORE_POOL_NAME = "default-pool"

GcsMode = Literal["workload_identity", "node_scopes", "none"]

BUCKET_ROLES = {
    "read": "roles/storage.objectViewer",
    "read_write": "roles/storage.objectUser",
    "admin": "roles/storage.objectAdmin",
}


@dataclass(frozen=True)
class Accelerator:
    """GPUs attached to every node of a pool."""

    type: str
    count: int


@dataclass(frozen=True)
class NodePool:
    """A GKE node pool that ``cluster.sh`` creates."""

    name: str
    machine_type: str
    disk_size: int
    num_nodes: int
    autoscaling: bool
    min_nodes: int
    max_nodes: int
    preemptible: bool
    spot: bool
    accelerator: Accelerator | None
    # Internal IP addresses only (cluster.private_nodes, or the group's own).
    private_nodes: bool = True


@dataclass(frozen=True)
class Adaptive:
    """A worker group that KEDA scales with its work, between ``min`` and ``max`` pods."""

    min: int
    max: int


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
    dask_cuda: bool
    pool: NodePool
    # Adaptive scaling (None: a fixed ``count``), the Dask worker resources the
    # workers declare, and /scratch's size (None: derived, dkgen/scratch.py).
    adaptive: Adaptive | None = None
    resources: tuple[tuple[str, float], ...] = ()
    scratch_size: str | None = None

    @property
    def most_workers(self) -> int:
        """The most worker pods the group runs: ``adaptive.max``, else ``count``."""
        return self.adaptive.max if self.adaptive else self.count

    @property
    def threads(self) -> int:
        """Threads per worker, as the original tool derived them."""
        return max(1, math.ceil(self.cpus))

    @property
    def memory_limit(self) -> int:
        """Dask's memory limit in bytes: ``mem_factor`` x container memory."""
        return memory_limit_bytes(self.memory, self.mem_factor)


@dataclass(frozen=True)
class Bucket:
    name: str
    role: str


@dataclass(frozen=True)
class GcsAccess:
    """How pods reach Google Cloud Storage, after ``auto`` is resolved."""

    mode: GcsMode
    # The Google service account pods act as (Workload Identity only).
    service_account: str | None
    # True when cluster.sh creates (and deletes) that account itself.
    managed_account: bool
    buckets: tuple[Bucket, ...]


Egress = Literal["cloud_nat", "existing", "none"]
Endpoint = Literal["dns", "ip"]


@dataclass(frozen=True)
class ControlPlane:
    """How kubectl reaches the control plane (``cluster.control_plane``)."""

    endpoint: Endpoint = "dns"
    authorized_networks: tuple[str, ...] = ()
    allow_internet: bool = False


@dataclass(frozen=True)
class NodeIdentity:
    """The Google service account every node pool runs as.

    ``account_id`` is set when cluster.sh creates the account (and deletes it
    with the cluster); ``email`` is None only then, when ``cluster.project``
    is null and gcloud's configured project completes it at run time.
    """

    email: str | None
    account_id: str | None

    @property
    def managed(self) -> bool:
        return self.account_id is not None


@dataclass(frozen=True)
class Cluster:
    name: str
    project: str | None
    zone: str | None
    region: str | None
    release_channel: str | None
    kubernetes_version: str | None
    network_tags: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    core_pool: NodePool
    # Hardening (issue 21): the cluster's default for private nodes (the core
    # pool's, and every group's unless it says otherwise), egress, the control
    # plane's endpoint, the nodes' identity, Shielded VM secure boot.
    private_nodes: bool = True
    egress: Egress = "cloud_nat"
    control_plane: ControlPlane = field(default_factory=ControlPlane)
    node_identity: NodeIdentity = field(default_factory=lambda: NodeIdentity(None, None))
    secure_boot: bool = True

    @property
    def location(self) -> str:
        """The zone or region, whichever the cluster uses."""
        return self.region or self.zone or ""

    @property
    def cloud_region(self) -> str:
        """The region the cluster is in (a zone's region for a zonal cluster):
        where its Cloud Router and NAT live."""
        return self.region or (self.zone or "").rsplit("-", 1)[0]

    @property
    def router_name(self) -> str:
        """The Cloud Router cluster.sh creates for ``egress: cloud_nat``."""
        return f"{self.name}-router"

    @property
    def nat_name(self) -> str:
        """The NAT configuration on :attr:`router_name`."""
        return f"{self.name}-nat"


@dataclass(frozen=True)
class Scheduler:
    image: str
    cpus: float
    memory: str
    tcp_port: int
    dashboard_port: int


@dataclass(frozen=True)
class JupyterHome:
    """The notebook home volume: a claim that outlives the pod, or an emptyDir."""

    persistent: bool
    size: str
    storage_class: str | None


@dataclass(frozen=True)
class Jupyter:
    enabled: bool
    image: str
    cpus: float
    memory: str
    port: int
    token_secret: str
    home: JupyterHome = field(default_factory=lambda: JupyterHome(False, "", None))


@dataclass(frozen=True)
class ImageVersions:
    """What a custom image runs, as declared under ``images``."""

    dask: str
    python: str
    dask_cuda: bool


Collector = Literal["managed_prometheus", "prometheus_operator", "none"]
# Where each collector's scraping pods run unless the settings say otherwise.
DEFAULT_SCRAPER_NAMESPACES = {
    "managed_prometheus": "gmp-system",
    "prometheus_operator": "monitoring",
}


@dataclass(frozen=True)
class Cost:
    """What the cluster may cost: the monthly budget in USD (None: no budget)."""

    monthly_budget: Decimal | None


@dataclass(frozen=True)
class Keda:
    """KEDA's install: the manifest digest the user reviewed (None: dkgen's pin, if any)."""

    manifest_sha256: str | None


@dataclass(frozen=True)
class Monitoring:
    """Which Prometheus scrapes /metrics, how often, and from which namespace."""

    collector: Collector
    interval: str
    scraper_namespace: str


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
    # What the patch selects: ``target``, or for a strategic-merge patch
    # without one its own kind and name (escaped); resolved once, at parsing.
    selects: PatchTarget = field(default_factory=PatchTarget)

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
    gcs: GcsAccess
    access: Access = field(default_factory=_no_access)
    # Dask's own configuration tree, free-form (Dask defines it, not dkgen).
    dask_config: dict[str, Any] = field(default_factory=dict)
    patches: tuple[Patch, ...] = ()
    # Declared versions of custom images, by image reference.
    images: tuple[tuple[str, ImageVersions], ...] = ()
    monitoring: Monitoring = field(
        default_factory=lambda: Monitoring(
            "none", "30s", DEFAULT_SCRAPER_NAMESPACES["managed_prometheus"]
        )
    )
    cost: Cost = field(default_factory=lambda: Cost(None))
    keda: Keda = field(default_factory=lambda: Keda(None))


def managed_service_account(cluster_name: str, location: str, project: str) -> str:
    """The account cluster.sh creates: ``dask-<name>-<digest>``, unique per cluster.

    The digest (8 hex digits of SHA-256) covers the cluster's whole identity,
    project, location (zone or region) and name, so the same name in two
    locations or projects, or two names whose readable part agrees (``foo``
    and ``dask-foo``, two names cut at the same 16 characters), get two
    accounts: one shared account would be deleted by either cluster's
    ``cluster.sh delete`` under the other's Workload Identity. The readable
    part is the name without a leading ``dask-``, cut to 16 characters, so the
    ID is at most 30 characters and always valid (``[a-z][-a-z0-9]*[a-z0-9]``,
    6-30 long).

    >>> eu, us = (managed_service_account("analytics", loc, "p").split("@")[0]
    ...           for loc in ("europe-west4", "us-central1"))
    >>> eu, us
    ('dask-analytics-46654174', 'dask-analytics-f62b4481')
    """
    account_id = cluster_account_id("dask-", cluster_name, project, location)
    return f"{account_id}@{project}.iam.gserviceaccount.com"


# IAM service account IDs: 6-30 characters, [a-z][-a-z0-9]*[a-z0-9].
# "dask-" (5) + readable part (16) + "-" + digest (8) = 30.
_ACCOUNT_ID_MAX = 30
_CLUSTER_ACCOUNT_DIGEST = 8


def cluster_account_id(prefix: str, cluster_name: str, *identity: str) -> str:
    """An account ID that belongs to one cluster: ``<prefix><name>-<digest>``.

    The digest (8 hex digits of SHA-256) covers ``identity`` and the name, so
    clusters of one name in two locations (or names that agree in their
    readable part) get two accounts; the readable part is the name without a
    leading ``dask-``, cut so the ID stays within IAM's 30 characters
    (``[a-z][-a-z0-9]*[a-z0-9]``, 6-30 long). The Workload Identity account
    (:func:`managed_service_account`: prefix ``dask-``, identity project and
    location) and the nodes' account (:func:`node_service_account_id`) share it.

    >>> cluster_account_id("nodes-", "dask-analytics", "europe-west4-a")
    'nodes-analytics-05f227a2'
    >>> len(cluster_account_id("nodes-", "a" * 40, "us-east1"))
    30
    """
    digest = hashlib.sha256(json.dumps([*identity, cluster_name]).encode()).hexdigest()
    room = _ACCOUNT_ID_MAX - len(prefix) - 1 - _CLUSTER_ACCOUNT_DIGEST
    head = cluster_name.removeprefix("dask-")[:room].strip("-")
    tail = digest[:_CLUSTER_ACCOUNT_DIGEST]
    return f"{prefix}{head}-{tail}" if head else f"{prefix}{tail}"


def node_service_account_id(cluster_name: str, location: str) -> str:
    """The ID of the nodes' dedicated account: ``nodes-<name>-<digest>``.

    Account IDs are unique per project, and one project may hold clusters
    of the same name in two locations; the digest of location and name keeps
    their accounts apart, so one cluster's ``delete`` never removes the
    account the other's nodes run as. The project is not in it: it is the
    account's own namespace, and may be known only when cluster.sh runs.

    >>> a, b = (node_service_account_id("dask", zone) for zone in ("us-east1-b", "us-east1-c"))
    >>> a != b
    True
    """
    return cluster_account_id("nodes-", cluster_name, location)


def node_identity(cluster_name: str, location: str, project: str | None,
                  email: str | None) -> NodeIdentity:  # fmt: skip
    """The nodes' account: the one named in the settings, else a dedicated one."""
    if email:
        return NodeIdentity(email=email, account_id=None)
    account_id = node_service_account_id(cluster_name, location)
    full = f"{account_id}@{project}.iam.gserviceaccount.com" if project else None
    return NodeIdentity(email=full, account_id=account_id)


def resolve_gcs_mode(access: str, project: str | None) -> GcsMode:
    if access == "auto":
        return "workload_identity" if project else "node_scopes"
    if access in ("workload_identity", "node_scopes", "none"):
        return access  # type: ignore[return-value]  # narrowed by the membership test
    raise ValueError(f"unknown gcs.access {access!r}")  # the schema's enum prevents this


def _accelerator(raw: dict[str, Any] | None) -> Accelerator | None:
    if raw is None:
        return None
    return Accelerator(type=raw["type"], count=raw["count"])


# The default group's node-pool keys live under cluster.*, its others under workers.*.
POOL_KEYS = frozenset(
    {"machine_type", "disk_size", "num_nodes", "autoscaling", "min_nodes", "max_nodes",
     "preemptible", "spot", "private_nodes"}
)  # fmt: skip


def group_key_path(name: str, own: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Where worker group ``name``'s effective ``key`` is set: the inheritance rule.

    A named group's own key wins; a key it leaves unset comes from the
    default group, whose node-pool keys are ``cluster.*`` and the others
    ``workers.*``. :func:`worker_group` reads values by it, and validation
    reports problems at it, so a problem with an inherited value points at
    the default it came from.
    """
    if name != DEFAULT_GROUP and key in own:
        return ("worker_groups", name, key)
    return ("cluster" if key in POOL_KEYS else "workers", key)


# A named group's own choices, never taken from the default group: its GPUs
# and whether its workers are dask-cuda workers.
OWN_ONLY_KEYS = frozenset({"accelerator", "dask_cuda"})
# A group's mapping that merges over the default group's instead of replacing it.
MERGED_KEYS = frozenset({"env"})


def inherited_from(key: str) -> tuple[str, ...] | None:
    """The default group's setting that a named group's ``key`` takes when
    the group leaves it unset (``cluster.max_nodes`` for ``max_nodes``), or
    None for a key it never inherits; ``env`` merges over its default.

    >>> inherited_from("max_nodes"), inherited_from("accelerator")
    (('cluster', 'max_nodes'), None)
    """
    if key in OWN_ONLY_KEYS:
        return None
    return group_key_path(DEFAULT_GROUP, {}, key)


def worker_group(
    name: str, own: dict[str, Any], workers: dict[str, Any], cluster: dict[str, Any]
) -> WorkerGroup:
    """Shape one worker group; keys missing from ``own`` come from the default group."""
    sections = {"cluster": cluster, "workers": workers}

    def pick(key: str) -> Any:
        path = group_key_path(name, own, key)
        return own[key] if path[0] == "worker_groups" else sections[path[0]][key]

    env = {**workers["env"], **own.get("env", {})}
    accelerator = _accelerator(own.get("accelerator"))
    resources = dict(pick("resources"))
    if accelerator and "GPU" not in resources:
        # dask cuda worker runs one worker process per GPU; a plain worker holds them all.
        resources["GPU"] = 1 if own.get("dask_cuda") else accelerator.count
    return WorkerGroup(
        name=name,
        count=pick("count"),
        cpus=pick("cpus_per_worker"),
        memory=pick("memory_per_worker"),
        mem_factor=pick("mem_factor"),
        image=pick("image"),
        env=tuple(sorted(env.items())),
        dask_cuda=bool(own.get("dask_cuda", False)),
        pool=NodePool(
            name=f"workers-{name}",
            machine_type=pick("machine_type"),
            disk_size=pick("disk_size"),
            num_nodes=pick("num_nodes"),
            autoscaling=pick("autoscaling"),
            min_nodes=pick("min_nodes"),
            max_nodes=pick("max_nodes"),
            preemptible=pick("preemptible"),
            spot=pick("spot"),
            accelerator=accelerator,
            private_nodes=pick("private_nodes"),
        ),
        adaptive=_adaptive(pick("adaptive")),
        resources=tuple(sorted(resources.items())),
        scratch_size=pick("scratch_size"),
    )


def _adaptive(raw: dict[str, Any] | None) -> Adaptive | None:
    return None if raw is None else Adaptive(min=raw["min"], max=raw["max"])


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
        name=CORE_POOL_NAME,
        machine_type=core["machine_type"],
        disk_size=core["disk_size"],
        num_nodes=core["num_nodes"],
        autoscaling=False,
        min_nodes=core["num_nodes"],
        max_nodes=core["num_nodes"],
        preemptible=False,
        spot=False,
        accelerator=None,
        private_nodes=cluster["private_nodes"],
    )
    workers = tree["workers"]
    # The original tool's workers.* and cluster.* keys describe the default group.
    groups = [worker_group(DEFAULT_GROUP, {}, workers, cluster)]
    groups += [
        worker_group(name, own, workers, cluster)
        for name, own in sorted(tree["worker_groups"].items())
    ]
    scheduler = tree["scheduler"]
    jupyter = tree["jupyter"]
    gcs = tree["gcs"]
    monitoring = tree["monitoring"]
    project = cluster["project"]
    mode = resolve_gcs_mode(gcs["access"], project)
    account = None
    if mode == "workload_identity":
        account = gcs["service_account"] or managed_service_account(
            cluster["name"], cluster["region"] or cluster["zone"] or "", project
        )
    return Settings(
        namespace=tree["namespace"],
        cluster=Cluster(
            name=cluster["name"],
            project=project,
            zone=cluster["zone"],
            region=cluster["region"],
            release_channel=cluster["release_channel"],
            kubernetes_version=cluster["kubernetes_version"],
            network_tags=tuple(cluster["network_tags"]),
            labels=tuple(sorted(cluster["labels"].items())),
            core_pool=core_pool,
            private_nodes=cluster["private_nodes"],
            egress=cluster["egress"],
            control_plane=ControlPlane(
                endpoint=cluster["control_plane"]["endpoint"],
                authorized_networks=tuple(cluster["control_plane"]["authorized_networks"]),
                allow_internet=cluster["control_plane"]["allow_internet"],
            ),
            node_identity=node_identity(
                cluster["name"],
                cluster["region"] or cluster["zone"] or "",
                project,
                cluster["node_service_account"],
            ),
            secure_boot=cluster["secure_boot"],
        ),
        scheduler=Scheduler(
            image=scheduler["image"],
            cpus=scheduler["cpus"],
            memory=scheduler["memory"],
            tcp_port=scheduler["tcp_port"],
            dashboard_port=scheduler["bokeh_port"],
        ),
        workers=tuple(groups),
        jupyter=Jupyter(
            enabled=jupyter["enabled"],
            image=jupyter["image"],
            cpus=jupyter["cpus"],
            memory=jupyter["memory"],
            port=jupyter["port"],
            token_secret=jupyter["token_secret"],
            home=JupyterHome(
                persistent=jupyter["home"]["volume"] == "persistent",
                size=jupyter["home"]["size"],
                storage_class=jupyter["home"]["storage_class"],
            ),
        ),
        gcs=GcsAccess(
            mode=mode,
            service_account=account,
            managed_account=mode == "workload_identity" and gcs["service_account"] is None,
            buckets=tuple(
                Bucket(name=b["name"], role=BUCKET_ROLES[b["access"]]) for b in gcs["buckets"]
            ),
        ),
        access=Access(
            scheduler=_exposure("scheduler", tree["access"]["scheduler"]),
            dashboard=_exposure("dashboard", tree["access"]["dashboard"]),
            jupyter=_exposure("jupyter", tree["access"]["jupyter"]),
        ),
        dask_config=tree["dask_config"],
        patches=tuple(patches),
        images=tuple(
            (image, ImageVersions(v["dask"], v["python"], v.get("dask_cuda", False)))
            for image, v in sorted(tree["images"].items())
        ),
        monitoring=Monitoring(
            collector=monitoring["collector"],
            interval=monitoring["interval"],
            scraper_namespace=monitoring["scraper_namespace"]
            or DEFAULT_SCRAPER_NAMESPACES.get(monitoring["collector"], "gmp-system"),
        ),
        cost=Cost(
            monthly_budget=None
            if tree["cost"]["monthly_budget"] is None
            else Decimal(str(tree["cost"]["monthly_budget"]))
        ),
        keda=Keda(manifest_sha256=tree["keda"]["manifest_sha256"]),
    )
