"""The GKE side of "hardened by default" (issue 21): every gcloud word for it.

``cluster.sh`` makes the cluster private, reachable only where the
settings say, and run by a least-privilege identity; this module builds the
words of each command that takes part, for :mod:`dkgen.render.cluster_script`
to place (every flag checked against the installed gcloud by
``tests/test_real_validators.py``):

* **Private nodes** (``--enable-private-nodes``; a pool may say
  ``--no-enable-private-nodes``) need VPC-native networking
  (``--enable-ip-alias``, which the cluster already has for Dataplane V2)
  and, for images from ``ghcr.io``, a **Cloud NAT**: a Cloud Router
  ``<cluster>-router`` on the ``default`` network in the cluster's region
  with the NAT ``<cluster>-nat`` (automatic external addresses, every
  subnet range), created before the cluster and deleted after it.
* **The control plane**: GKE's DNS-based endpoint with the IP endpoint off
  (``--enable-dns-access --no-enable-ip-access``; credentials with
  ``get-credentials --dns-endpoint``), or the IP endpoint behind
  authorized networks (``--enable-master-authorized-networks
  --master-authorized-networks``), open to all only with the warned
  ``allow_internet``.
* **A dedicated node service account** ``nodes-<cluster>-<digest>``
  (:func:`dkgen.settings.node_service_account_id`), created before the
  cluster (GKE refuses a node pool whose account does not exist), granted
  in the project, each with ``--condition=None``, only
  :data:`NODE_ROLES` (plus :data:`REGISTRY_ROLE` when an image comes from
  Artifact Registry), and deleted after the cluster, whose nodes would
  otherwise run as a deleted identity while it drains.
* **Shielded nodes**: ``--shielded-secure-boot`` and
  ``--shielded-integrity-monitoring`` on every pool, always together:
  gcloud builds ``shieldedInstanceConfig`` from whichever is given and
  leaves the other false.

When ``cluster.project`` is null, gcloud's configured project is the
cluster's, and the dedicated account's email is known only when the script
runs: :class:`RunTimeWord` marks the words the script expands then
(``"$node_account"``, ``"$project"``), one shell word each.
"""

from __future__ import annotations

import functools
from pathlib import Path

from dkgen.records import dataclass
from dkgen.settings import NodePool, Settings

# Google's least-privilege role for node service accounts: it stands for
# logging.logWriter, monitoring.metricWriter, monitoring.viewer,
# stackdriver.resourceMetadata.writer and autoscaling.metricsWriter, and
# Google keeps it equal to what nodes need as GKE changes.
NODE_ROLES = ("roles/container.defaultNodeServiceAccount",)
# Nodes pull images with their own account: needed only for Artifact Registry.
REGISTRY_ROLE = "roles/artifactregistry.reader"
ARTIFACT_REGISTRY_SUFFIX = "-docker.pkg.dev"
# The network GKE uses when no --network is given, and so the NAT's.
NETWORK = "default"


class RunTimeWord(str):
    """A word the script expands when it runs, written as it is (double-quoted)."""

    __slots__ = ()


PROJECT_WORD = RunTimeWord('"$project"')
NODE_ACCOUNT_WORD = RunTimeWord('"$node_account"')


def node_account(settings: Settings) -> str:
    """The nodes' account email, or the word that holds it at run time."""
    return settings.cluster.node_identity.email or NODE_ACCOUNT_WORD


def project(settings: Settings) -> str:
    """The project ID, or the word that holds gcloud's configured one at run time."""
    return settings.cluster.project or PROJECT_WORD


def needs_run_time_project(settings: Settings) -> bool:
    """Whether the script must ask gcloud for the project (the dedicated account's email)."""
    identity = settings.cluster.node_identity
    return identity.managed and identity.email is None


def uses_artifact_registry(settings: Settings) -> bool:
    images = [settings.scheduler.image, *(group.image for group in settings.workers)]
    if settings.jupyter.enabled:
        images.append(settings.jupyter.image)
    return any(image.split("/", 1)[0].endswith(ARTIFACT_REGISTRY_SUFFIX) for image in images)


def node_roles(settings: Settings) -> tuple[str, ...]:
    """The project roles the dedicated node account holds: only these."""
    extra = (REGISTRY_ROLE,) if uses_artifact_registry(settings) else ()
    return NODE_ROLES + extra


def _project_flag(settings: Settings) -> list[str]:
    return ["--project", settings.cluster.project] if settings.cluster.project else []


# ------------------------------------------------------------------ cluster and pools


def node_flags(settings: Settings) -> list[str]:
    """The identity and boot integrity of a pool's nodes (the core pool's on create)."""
    boot = "--shielded-secure-boot" if settings.cluster.secure_boot else "--no-shielded-secure-boot"
    return ["--service-account", node_account(settings), boot, "--shielded-integrity-monitoring"]


def endpoint_flags(settings: Settings) -> list[str]:
    """The control plane's endpoints, on create and on update."""
    plane = settings.cluster.control_plane
    if plane.endpoint == "dns":
        return ["--enable-dns-access", "--no-enable-ip-access"]
    flags = ["--no-enable-dns-access", "--enable-ip-access"]
    if plane.authorized_networks:
        networks = ",".join(plane.authorized_networks)
        return [*flags, "--enable-master-authorized-networks",
                "--master-authorized-networks", networks]  # fmt: skip
    return [*flags, "--no-enable-master-authorized-networks"]  # allow_internet (validated)


def cluster_flags(settings: Settings) -> list[str]:
    """What ``clusters create`` adds for private nodes, the endpoint and the nodes."""
    private = ["--enable-private-nodes"] if settings.cluster.private_nodes else []
    return [*private, *endpoint_flags(settings), "--enable-shielded-nodes", *node_flags(settings)]


def pool_flags(settings: Settings, pool: NodePool) -> list[str]:
    """What ``node-pools create`` adds: each pool says whether its nodes are private."""
    private = "--enable-private-nodes" if pool.private_nodes else "--no-enable-private-nodes"
    return [private, *node_flags(settings)]


def credentials_flags(settings: Settings) -> list[str]:
    return ["--dns-endpoint"] if settings.cluster.control_plane.endpoint == "dns" else []


# ------------------------------------------------------------------ what apply compares

# The live fields apply compares, appended to cluster_script's projections.
POOL_FIELDS = (
    "networkConfig.enablePrivateNodes",
    "config.serviceAccount",
    "config.shieldedInstanceConfig.enableSecureBoot",
    "config.shieldedInstanceConfig.enableIntegrityMonitoring",
)
_AUTHORIZED = "controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig"
CLUSTER_FIELDS = (
    "privateClusterConfig.enablePrivateNodes",
    "controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic",
    "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled",
    f"{_AUTHORIZED}.enabled",
    f"{_AUTHORIZED}.cidrBlocks[].cidrBlock",
)


@dataclass(frozen=True)
class Want:
    """One live field and its wanted value (the runtime's ``want_field``):
    ``group`` names the update that changes it, or ``replace``."""

    group: str
    field: str
    compare: str
    label: str
    want: str


def _bool(value: bool) -> str:
    return "True" if value else ""


def pool_wants(settings: Settings, pool: NodePool) -> list[Want]:
    """A pool's private nodes change in place; its account and boot only by replacing
    it (UpdateNodePoolRequest has neither serviceAccount nor shieldedInstanceConfig)."""
    secure_boot = settings.cluster.secure_boot
    return [
        Want("private", "networkConfig.enablePrivateNodes", "bool", "private nodes",
             _bool(pool.private_nodes)),
        Want("replace", "config.serviceAccount", "text", "service account",
             node_account(settings)),
        Want("replace", "config.shieldedInstanceConfig.enableSecureBoot", "bool",
             "secure boot", _bool(secure_boot)),
        Want("replace", "config.shieldedInstanceConfig.enableIntegrityMonitoring", "bool",
             "integrity monitoring", "True"),
    ]  # fmt: skip


def pool_updates(pool: NodePool) -> list[tuple[str, list[str]]]:
    private = "--enable-private-nodes" if pool.private_nodes else "--no-enable-private-nodes"
    return [("private", [private])]


def cluster_wants(settings: Settings) -> list[tuple[Want, list[str]]]:
    """The cluster's private-node default and its endpoints, each with its update flags
    (the endpoint fields are one update: gcloud builds one endpoint config from them)."""
    cluster = settings.cluster
    plane = cluster.control_plane
    private = "--enable-private-nodes" if cluster.private_nodes else "--no-enable-private-nodes"
    ip = plane.endpoint == "ip"
    endpoint = endpoint_flags(settings)
    wants = [
        (Want("private", CLUSTER_FIELDS[0], "bool", "private nodes by default",
              _bool(cluster.private_nodes)), [private]),
        (Want("endpoint", CLUSTER_FIELDS[1], "bool", "DNS endpoint", _bool(not ip)), endpoint),
        (Want("endpoint", CLUSTER_FIELDS[2], "bool", "IP endpoint", _bool(ip)), endpoint),
    ]  # fmt: skip
    if ip:
        # With the IP endpoint off, its authorized networks guard nothing: GKE
        # keeps what was there, and apply leaves it (endpoint: ip sets it again).
        wants += [
            (Want("endpoint", CLUSTER_FIELDS[3], "bool", "authorized networks",
                  _bool(bool(plane.authorized_networks))), endpoint),
            (Want("endpoint", CLUSTER_FIELDS[4], "list", "authorized ranges",
                  ";".join(plane.authorized_networks)), endpoint),
        ]  # fmt: skip
    return wants


def pool_facts(settings: Settings, pool: NodePool) -> dict[str, object]:
    """A pool's hardening facts for ``# dkgen-pool:`` lines (dkgen.impact compares them)."""
    identity = settings.cluster.node_identity
    return {
        "private_nodes": pool.private_nodes,
        "service_account": identity.email or identity.account_id,
        "secure_boot": settings.cluster.secure_boot,
    }


# Facts GKE cannot change on an existing pool: apply replaces the pool (--replace).
REPLACED_FACTS = frozenset({"service_account", "secure_boot"})


# ------------------------------------------------------------------ router and NAT


def _region(settings: Settings) -> list[str]:
    return ["--region", settings.cluster.cloud_region, *_project_flag(settings)]


def _nat_cost(settings: Settings) -> str:
    """The NAT gateway's monthly range at the nodes' range, from dkgen.capacity.cost."""
    # Imported here: the cost model is only needed for this README line.
    from dkgen.capacity.cost import HOURS_PER_MONTH, cluster_cost, usd_range  # noqa: PLC0415

    for extra in cluster_cost(settings).extras:
        if extra.kind == "nat" and extra.hour_range is not None:
            low, high = extra.hour_range
            return f"{usd_range(low * HOURS_PER_MONTH, high * HOURS_PER_MONTH)}/month"
    return "an unknown amount a month"


def router_description(settings: Settings) -> str:
    """Marks the router as this cluster's: apply and delete remove only a router that
    carries it, never one of the same name that someone else made."""
    return f"dkgen: Cloud NAT egress of GKE cluster {settings.cluster.name}"


def router_read_command(settings: Settings) -> list[str]:
    """Every router of the project with its region and description: the runtime
    picks the one of this name in the cluster's region and checks it is this
    cluster's. No --filter and no --regions (which gcloud turns into one): on an
    empty answer gcloud warns that the filter key was in no resource, and a
    read's warning fails the run."""
    return ["gcloud", "compute", "routers", "list", *_project_flag(settings),
            "--format=value[separator='|'](name,region.basename(),description)"]  # fmt: skip


def nat_read_command(settings: Settings) -> list[str]:
    """The NAT's allocation and ranges: what apply compares."""
    cluster = settings.cluster
    return ["gcloud", "compute", "routers", "nats", "list", "--router", cluster.router_name,
            *_region(settings),
            "--format=value[separator='|'](name,natIpAllocateOption,"
            "sourceSubnetworkIpRangesToNat)"]  # fmt: skip


# What nat_read_command prints for the NAT cluster.sh creates.
NAT_WANT = "AUTO_ONLY|ALL_SUBNETWORKS_ALL_IP_RANGES"


def router_create_command(settings: Settings) -> list[str]:
    return ["gcloud", "compute", "routers", "create", settings.cluster.router_name,
            "--network", NETWORK, *_region(settings),
            "--description", router_description(settings)]  # fmt: skip


def _nat_flags() -> list[str]:
    return ["--auto-allocate-nat-external-ips", "--nat-all-subnet-ip-ranges"]


def nat_create_command(settings: Settings) -> list[str]:
    cluster = settings.cluster
    return ["gcloud", "compute", "routers", "nats", "create", cluster.nat_name,
            "--router", cluster.router_name, *_region(settings), *_nat_flags()]  # fmt: skip


def nat_update_command(settings: Settings) -> list[str]:
    cluster = settings.cluster
    return ["gcloud", "compute", "routers", "nats", "update", cluster.nat_name,
            "--router", cluster.router_name, *_region(settings), *_nat_flags()]  # fmt: skip


def router_delete_command(settings: Settings) -> list[str]:
    """The router, and with it its NAT (a NAT lives inside its router)."""
    return ["gcloud", "compute", "routers", "delete", settings.cluster.router_name,
            *_region(settings), "--quiet"]  # fmt: skip


# ------------------------------------------------------------------ the nodes' account


def node_account_lookup_command(settings: Settings) -> list[str]:
    # Every account, no --filter: on an empty answer gcloud warns that the filter
    # key was in no resource, and a read's warning fails the run (the runtime
    # picks the line it wants).
    return ["gcloud", "iam", "service-accounts", "list", "--project", project(settings),
            "--format=value(email)"]  # fmt: skip


def node_account_create_command(settings: Settings) -> list[str]:
    identity = settings.cluster.node_identity
    return ["gcloud", "iam", "service-accounts", "create", identity.account_id or "",
            "--project", project(settings),
            "--display-name", f"Nodes of GKE cluster {settings.cluster.name}"]  # fmt: skip


def node_account_delete_command(settings: Settings) -> list[str]:
    return ["gcloud", "iam", "service-accounts", "delete", node_account(settings),
            "--project", project(settings), "--quiet"]  # fmt: skip


def node_member(settings: Settings) -> str:
    email = settings.cluster.node_identity.email
    return f"serviceAccount:{email}" if email else RunTimeWord('"serviceAccount:$node_account"')


def project_policy_command(settings: Settings) -> list[str]:
    return ["gcloud", "projects", "get-iam-policy", project(settings),
            "--flatten=bindings[].members",
            "--format=value[separator='|'](bindings.role,bindings.members)"]  # fmt: skip


def project_binding_command(settings: Settings, verb: str) -> list[str]:
    """Grant (``add``) or revoke (``remove``) a project role; the runtime appends
    ``--member`` and ``--role``."""
    # --condition=None: gcloud asks which condition otherwise when the policy
    # holds conditional bindings, and cannot ask without a terminal.
    return ["gcloud", "projects", f"{verb}-iam-policy-binding", project(settings),
            "--condition=None", "--format=none"]  # fmt: skip


# ------------------------------------------------------------------ the reviewer's README


def readme_lines(settings: Settings) -> list[str]:
    """What out/README.md says about the cluster's network, endpoint and identity."""
    cluster = settings.cluster
    plane = cluster.control_plane
    pools = [cluster.core_pool, *(group.pool for group in settings.workers)]
    public = [pool.name for pool in pools if not pool.private_nodes]
    lines = ["## The GKE cluster's hardening", ""]
    if not public:
        lines.append("- Nodes have internal IP addresses only (private nodes).")
    elif len(public) == len(pools):
        lines.append("- Nodes have public IP addresses (`cluster.private_nodes: false`).")
    else:
        lines.append(
            "- Nodes have internal IP addresses only, but for the public node pools "
            + ", ".join(f"`{name}`" for name in public)
            + "."
        )
    if cluster.egress == "cloud_nat":
        lines += [
            f"- Egress: `cluster.sh` creates the Cloud Router `{cluster.router_name}` and its",
            f"  Cloud NAT `{cluster.nat_name}` in `{cluster.cloud_region}` (network `{NETWORK}`),",
            "  so private nodes pull images from ghcr.io and reach package indexes, and deletes",
            "  them with the cluster. Cloud NAT is billed per gateway hour and per GB processed:",
            f"  {_nat_cost(settings)} (the Cost table), plus $0.045 per GiB it carries.",
            "  Opt out with `cluster.egress: existing` when the network already has a NAT, or",
            "  `cluster.private_nodes: false` with `cluster.egress: none`.",
        ]
    elif cluster.egress == "existing":
        lines.append("- Egress: through the network's existing NAT (`cluster.egress: existing`).")
    else:
        lines.append("- Egress: none is created (`cluster.egress: none`).")
    if plane.endpoint == "dns":
        lines += [
            "- Control plane: only GKE's DNS-based endpoint answers (IAM decides who may use",
            "  it); the IP endpoint is off. `./cluster.sh credentials` runs",
            "  `gcloud container clusters get-credentials … --dns-endpoint`.",
        ]
    elif plane.authorized_networks:
        networks = ", ".join(f"`{network}`" for network in plane.authorized_networks)
        lines.append(f"- Control plane: the IP endpoint, reachable only from {networks}.")
    else:
        lines.append(
            "- Control plane: the IP endpoint, open to every address "
            "(`cluster.control_plane.allow_internet: true`)."
        )
    identity = cluster.node_identity
    if identity.managed:
        roles = ", ".join(f"`{role}`" for role in node_roles(settings))
        who = identity.email or f"{identity.account_id}@<project>.iam.gserviceaccount.com"
        lines += [
            f"- Nodes run as `{who}`, which `cluster.sh` creates",
            f"  for this cluster, grants only {roles} in the project",
            "  (and the bucket roles of `gcs.buckets` under `node_scopes`), and deletes after",
            "  the cluster.",
        ]
    else:
        lines.append(f"- Nodes run as `{identity.email}` (`cluster.node_service_account`).")
    boot = "secure boot and integrity monitoring" if cluster.secure_boot else (
        "integrity monitoring (secure boot off: `cluster.secure_boot: false`)")  # fmt: skip
    lines += [f"- Shielded nodes with {boot} on every pool.", ""]
    return lines


# ------------------------------------------------------------------ the wanted state

# One stored command for the runtime: (kind, name, verb, words).
Definition = tuple[str, str, str, list[str]]


def run_time_lines(settings: Settings) -> list[str]:
    """Shell lines that set ``project`` and ``node_account`` before the data, when
    only gcloud's configured project completes the nodes' account."""
    if not needs_run_time_project(settings):
        return []
    account_id = settings.cluster.node_identity.account_id
    return [
        '  project="$(configured_project)"',
        f'  node_account="{account_id}@$project.iam.gserviceaccount.com"',
    ]


def egress_record(settings: Settings) -> list[str]:
    """``want_egress``'s words (cluster_hardening.sh)."""
    cluster = settings.cluster
    return ["want_egress", cluster.egress, cluster.router_name, cluster.nat_name, NAT_WANT,
            router_description(settings), cluster.cloud_region]  # fmt: skip


def egress_definitions(settings: Settings) -> list[Definition]:
    cluster = settings.cluster
    router, nat = cluster.router_name, cluster.nat_name
    return [
        ("router", router, "read", router_read_command(settings)),
        ("router", router, "create", router_create_command(settings)),
        ("router", router, "delete", router_delete_command(settings)),
        ("nat", nat, "read", nat_read_command(settings)),
        ("nat", nat, "create", nat_create_command(settings)),
        ("nat", nat, "update", nat_update_command(settings)),
    ]


def node_account_definitions(settings: Settings) -> list[Definition]:
    """The dedicated account's commands (none for an account the settings name)."""
    if not settings.cluster.node_identity.managed:
        return []
    email = node_account(settings)
    return [
        ("account", email, "lookup", node_account_lookup_command(settings)),
        ("account", email, "create", node_account_create_command(settings)),
        ("account", email, "delete", node_account_delete_command(settings)),
    ]


def project_target(settings: Settings) -> str:
    """How change lines name the project (the runtime's grant TARGET)."""
    if settings.cluster.project:
        return f"project {settings.cluster.project}"
    return RunTimeWord('"project $project"')


def project_grants(settings: Settings) -> list[tuple[str, str, str, str]]:
    """``want_grant`` (TARGET, MEMBER, ROLE, MODE) for the dedicated account's roles:
    owned, so a role no longer wanted is revoked and delete revokes them all."""
    if not settings.cluster.node_identity.managed:
        return []
    target, member = project_target(settings), node_member(settings)
    return [(target, member, role, "owned") for role in node_roles(settings)]


def project_grant_definitions(settings: Settings) -> list[Definition]:
    if not settings.cluster.node_identity.managed:
        return []
    target = project_target(settings)
    return [
        ("grant", target, "read", project_policy_command(settings)),
        ("grant", target, "add", project_binding_command(settings, "add")),
        ("grant", target, "remove", project_binding_command(settings, "remove")),
    ]


def bucket_grantee(settings: Settings) -> tuple[str, bool] | None:
    """Who gets gcs.buckets' roles, and whether dkgen owns that member's roles:
    the Workload Identity account, or under node_scopes the nodes' account."""
    gcs = settings.gcs
    if gcs.mode == "workload_identity" and gcs.service_account:
        return f"serviceAccount:{gcs.service_account}", gcs.managed_account
    if gcs.mode == "node_scopes":
        return node_member(settings), settings.cluster.node_identity.managed
    return None


@functools.cache
def hardening_runtime() -> str:
    """The egress part of the reconciler, verbatim (cluster_hardening.sh)."""
    text = (Path(__file__).parent / "cluster_hardening.sh").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    # The directives that make the file shellcheck alone; the script has the runtime above.
    return "".join(line for line in lines if not line.startswith("# shellcheck "))
