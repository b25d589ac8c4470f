"""``cluster.sh``: make the live GKE cluster what the settings say (apply, diff, delete).

Every word of every command is built here as a Python string and written
through :func:`shlex.quote`, so no setting can split words, glob or
substitute commands in the script (the schema rejects most such characters
first). Commands run through ``run``, which ``--dry-run`` turns into
printing the command, shell-quoted, one per line: the reviewer sees exactly
what could run, and the tests feed those lines to gcloud's own parser.

``apply`` reads the live state once (``gcloud … list`` with ``--format``
projections, no jq) and compares it field by field with the values written
into the script; each difference is one change: created, updated in place
(one ``gcloud … update`` per group of flags gcloud accepts together),
replaced (``--replace``; else refused with the reason and the commands), or
deleted (node pools the settings no longer have; asks unless ``--yes``).
Every step checks before it acts, so a second ``apply`` sends no mutating
request and an interrupted one finishes on the next run. ``diff`` prints the
same changes, one line each, and changes nothing. ``delete`` checks each
thing before deleting it, so it can be re-run after any partial failure.

Order matters on the way down: Services of type LoadBalancer and Ingresses
own Google Cloud forwarding rules that outlive the cluster, so ``delete``
removes them (and waits, through their cleanup finalizers) before the
cluster itself.

:func:`pool_facts` is the machine-readable summary of the node pools (one
``# dkgen-pool:`` comment line each in the script) that :mod:`dkgen.impact`
compares between two builds.
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from dkgen.autoscaling import (
    KEDA_MANIFEST,
    KEDA_VERSION,
    adaptive_groups,
    keda_commands,
    keda_manifest_sha256,
)
from dkgen.capacity.cost import cluster_cost, month_facts
from dkgen.records import dataclass
from dkgen.render import cluster_hardening as hardening
from dkgen.render.cluster_hardening import RunTimeWord
from dkgen.render.common import SERVICE_ACCOUNT
from dkgen.render.jupyter_home import delete_question_suffix
from dkgen.render.workers import WORKER_TAINT_EFFECT, WORKER_TAINT_KEY, WORKER_TAINT_VALUE
from dkgen.settings import NodePool, Settings

Command = Sequence[str]

# The prefix of the comment lines that carry each pool's facts (dkgen.impact reads them).
POOL_FACTS_PREFIX = "# dkgen-pool: "
# gcloud's --format projection of a node pool, one field per position (1-based
# in the script's awk): what apply compares. Lists come out joined by ";".
POOL_FIELDS = (
    "name",
    "config.machineType",
    "config.diskSizeGb",
    "autoscaling.enabled",
    "autoscaling.minNodeCount",
    "autoscaling.maxNodeCount",
    "config.spot",
    "config.preemptible",
    "config.accelerators[0].acceleratorType",
    "config.accelerators[0].acceleratorCount",
    "config.taints[].key",
    "config.taints[].value",
    "config.taints[].effect",
    "config.tags",
    "config.workloadMetadataConfig.mode",
    "config.oauthScopes",
    "instanceGroupUrls",
    *hardening.POOL_FIELDS,
)
CLUSTER_FIELDS = (
    "name",
    "releaseChannel.channel",
    "resourceLabels",
    "workloadIdentityConfig.workloadPool",
    *hardening.CLUSTER_FIELDS,
)
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Attempts for the Workload Identity binding: a new service account reaches
# every IAM server within seconds to minutes (waits 1, 2, 4, 8, 16 s).
IAM_ATTEMPTS = 6


def _projection(fields: Sequence[str]) -> str:
    return f"--format=value[separator='|']({','.join(fields)})"


def _field(name: str, fields: Sequence[str] = POOL_FIELDS) -> int:
    return fields.index(name) + 1


def _line(words: Command, indent: str) -> str:
    """One command, subcommand words on the first line, one flag per continuation line."""
    quoted = [_word(word) for word in words]
    lines: list[str] = []
    for word in quoted:
        if word.startswith("--") or not lines:
            lines.append(word)
        elif lines[-1].startswith("--"):
            lines[-1] += " " + word  # the flag's value
        else:
            lines[-1] += " " + word  # still the subcommand
    return f" \\\n{indent}  ".join(lines)


def _q(text: str) -> str:
    return shlex.quote(text)


def _word(word: str) -> str:
    """One word of a command, quoted; a run-time word (``"$project"``) as it is."""
    return str(word) if isinstance(word, RunTimeWord) else shlex.quote(word)


# ------------------------------------------------------------------ flags


def _location(settings: Settings) -> list[str]:
    cluster = settings.cluster
    flags = ["--region", cluster.region] if cluster.region else ["--zone", cluster.zone or ""]
    if cluster.project:
        flags += ["--project", cluster.project]
    return flags


def _project(settings: Settings) -> list[str]:
    return ["--project", settings.cluster.project] if settings.cluster.project else []


def _node_access(settings: Settings) -> list[str]:
    """How nodes hand Google credentials to pods, per gcs.access."""
    if settings.gcs.mode == "workload_identity":
        return ["--workload-metadata", "GKE_METADATA"]
    if settings.gcs.mode == "node_scopes":
        return ["--scopes", "cloud-platform"]
    return []


def _tags(settings: Settings) -> list[str]:
    tags = settings.cluster.network_tags
    return ["--tags", ",".join(tags)] if tags else []


def _accelerator_flag(pool: NodePool) -> list[str]:
    if not pool.accelerator:
        return []
    # gpu-driver-version=default: GKE installs the driver, no DaemonSet to apply.
    return [
        "--accelerator",
        f"type={pool.accelerator.type},count={pool.accelerator.count},gpu-driver-version=default",
    ]


def _autoscaling_flags(pool: NodePool) -> list[str]:
    if not pool.autoscaling:
        return []
    return ["--enable-autoscaling", "--min-nodes", str(pool.min_nodes),
            "--max-nodes", str(pool.max_nodes)]  # fmt: skip


def _pool_shape(pool: NodePool) -> list[str]:
    flags = [
        "--machine-type", pool.machine_type,
        "--num-nodes", str(pool.num_nodes),
        "--disk-size", str(pool.disk_size),
        *_autoscaling_flags(pool),
    ]  # fmt: skip
    if pool.spot:
        flags.append("--spot")
    if pool.preemptible:
        flags.append("--preemptible")
    return flags + _accelerator_flag(pool)


def _is_worker_pool(settings: Settings, pool: NodePool) -> bool:
    return pool.name != settings.cluster.core_pool.name


def _taint_flags(settings: Settings, pool: NodePool) -> list[str]:
    if not _is_worker_pool(settings, pool):
        return []
    # Only worker pods tolerate this taint, so nothing else lands on the pool.
    return ["--node-taints", f"{WORKER_TAINT_KEY}={WORKER_TAINT_VALUE}:{WORKER_TAINT_EFFECT}"]


# ------------------------------------------------------------------ commands


def cluster_create_command(settings: Settings) -> list[str]:
    """The cluster and its initial pool, which is the core pool (GKE: default-pool)."""
    cluster = settings.cluster
    words = ["gcloud", "container", "clusters", "create", cluster.name, *_location(settings)]
    # gcloud: with no --release-channel GKE enrolls the cluster in a channel
    # anyway; None opts out, for the static version the setting promises.
    words += ["--release-channel", cluster.release_channel or "None"]
    if cluster.kubernetes_version:
        words += ["--cluster-version", cluster.kubernetes_version]
    words += _pool_shape(cluster.core_pool)
    # Dataplane V2 enforces NetworkPolicy; VPC-native networking is its prerequisite.
    words += ["--enable-dataplane-v2", "--enable-ip-alias"]
    # Private nodes, the control plane's endpoint, the nodes' account and boot.
    words += hardening.cluster_flags(settings)
    if settings.gcs.mode == "workload_identity":
        words += ["--workload-pool", _workload_pool(settings)]
    words += _node_access(settings)
    if settings.monitoring.collector == "managed_prometheus":
        # livable: GKE's managed collectors read the PodMonitoring objects (render/monitoring.py).
        words.append("--enable-managed-prometheus")
    if cluster.labels:
        words += ["--labels", ",".join(f"{k}={v}" for k, v in cluster.labels)]
    words += _tags(settings)
    return words


def _workload_pool(settings: Settings) -> str:
    return f"{settings.cluster.project}.svc.id.goog"


def pool_create_command(settings: Settings, pool: NodePool) -> list[str]:
    return [
        "gcloud", "container", "node-pools", "create", pool.name,
        "--cluster", settings.cluster.name,
        *_location(settings),
        *_pool_shape(pool),
        *_taint_flags(settings, pool),
        *_node_access(settings),
        *_tags(settings),
        *hardening.pool_flags(settings, pool),
    ]  # fmt: skip


def pool_update_command(settings: Settings, pool: NodePool, flags: Sequence[str]) -> list[str]:
    return ["gcloud", "container", "node-pools", "update", pool.name,
            "--cluster", settings.cluster.name, *_location(settings), *flags]  # fmt: skip


def pool_resize_command(settings: Settings, pool: NodePool) -> list[str]:
    return ["gcloud", "container", "clusters", "resize", settings.cluster.name,
            "--node-pool", pool.name, "--num-nodes", str(pool.num_nodes),
            *_location(settings), "--quiet"]  # fmt: skip


def pool_delete_command(settings: Settings, name: str | None) -> list[str]:
    """Delete the pool ``name``; with None, the pool's name is the last word, added later."""
    words = ["gcloud", "container", "node-pools", "delete"]
    if name is not None:
        words.append(name)
    return [*words, "--cluster", settings.cluster.name, *_location(settings), "--quiet"]


def cluster_update_command(settings: Settings, flags: Sequence[str]) -> list[str]:
    return ["gcloud", "container", "clusters", "update", settings.cluster.name,
            *_location(settings), *flags]  # fmt: skip


def credentials_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "get-credentials", settings.cluster.name,
            *_location(settings), *hardening.credentials_flags(settings)]  # fmt: skip


# Existence checks list rather than describe: describe fails the same way for
# "not found" and for a permission or network error, and only the first may
# lead to a create. No --filter: on an empty list gcloud warns that the filter
# key was in no resource, and a read's warning fails the run (the runtime
# picks the line it wants).
def cluster_read_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "list", *_location(settings),
            _projection(CLUSTER_FIELDS)]  # fmt: skip


def pools_read_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "node-pools", "list", "--cluster", settings.cluster.name,
            *_location(settings), _projection(POOL_FIELDS)]  # fmt: skip


def instance_groups_read_command(settings: Settings) -> list[str]:
    """Every managed instance group's size: a node pool's node count per zone."""
    return ["gcloud", "compute", "instance-groups", "managed", "list", *_project(settings),
            _projection(("name", "targetSize"))]  # fmt: skip


def cluster_status_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "describe", settings.cluster.name,
            *_location(settings), "--format=value(name,status,currentMasterVersion)"]  # fmt: skip


def pool_list_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "node-pools", "list", "--cluster", settings.cluster.name,
            *_location(settings)]  # fmt: skip


def cluster_delete_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "delete", settings.cluster.name,
            *_location(settings), "--quiet"]  # fmt: skip


def _account_id(email: str) -> str:
    return email.split("@", 1)[0]


def account_lookup_command(settings: Settings, email: str) -> list[str]:
    return ["gcloud", "iam", "service-accounts", "list",
            "--project", settings.cluster.project or "", "--format=value(email)"]  # fmt: skip


def account_create_command(settings: Settings, email: str) -> list[str]:
    return ["gcloud", "iam", "service-accounts", "create", _account_id(email),
            "--project", settings.cluster.project or "",
            "--display-name", f"Dask pods of GKE cluster {settings.cluster.name}"]  # fmt: skip


def account_delete_command(settings: Settings, email: str) -> list[str]:
    return ["gcloud", "iam", "service-accounts", "delete", email,
            "--project", settings.cluster.project or "", "--quiet"]  # fmt: skip


_POLICY_FORMAT = [
    "--flatten=bindings[].members",
    "--format=value[separator='|'](bindings.role,bindings.members)",
]


def account_policy_command(settings: Settings, email: str) -> list[str]:
    return ["gcloud", "iam", "service-accounts", "get-iam-policy", email,
            "--project", settings.cluster.project or "", *_POLICY_FORMAT]  # fmt: skip


def workload_identity_member(settings: Settings) -> str:
    return f"serviceAccount:{_workload_pool(settings)}[{settings.namespace}/{SERVICE_ACCOUNT}]"


WORKLOAD_IDENTITY_ROLE = "roles/iam.workloadIdentityUser"


def workload_identity_binding_command(settings: Settings, email: str) -> list[str]:
    """Let a member act as the Google service account (the runtime adds --member, --role)."""
    # --condition=None: gcloud asks which condition otherwise when the policy
    # holds conditional bindings, and cannot ask without a terminal.
    return ["gcloud", "iam", "service-accounts", "add-iam-policy-binding", email,
            "--project", settings.cluster.project or "",
            "--condition=None", "--format=none"]  # fmt: skip


def bucket_policy_command(bucket: str) -> list[str]:
    return ["gcloud", "storage", "buckets", "get-iam-policy", f"gs://{bucket}", *_POLICY_FORMAT]


def bucket_binding_command(verb: str, bucket: str) -> list[str]:
    """Add or remove a bucket grant (the runtime adds --member and --role)."""
    return ["gcloud", "storage", "buckets", f"{verb}-iam-policy-binding", f"gs://{bucket}",
            "--condition=None", "--format=none"]  # fmt: skip


# ------------------------------------------------------------------ facts


def pool_facts(settings: Settings) -> list[dict[str, object]]:
    """Each node pool as plain data: what a change to it means (dkgen.impact).

    ``month_usd`` is the pool's monthly range at list prices ([least, most],
    exact cents as text; None when a price is unknown), so a later build's
    impact can say what a change costs without the old settings.
    """
    pools = [settings.cluster.core_pool, *(group.pool for group in settings.workers)]
    costs = cluster_cost(settings).pools
    return [
        {
            "name": pool.name,
            "machine_type": pool.machine_type,
            "disk_size": pool.disk_size,
            "num_nodes": pool.num_nodes,
            "autoscaling": pool.autoscaling,
            "min_nodes": pool.min_nodes if pool.autoscaling else None,
            "max_nodes": pool.max_nodes if pool.autoscaling else None,
            "spot": pool.spot,
            "preemptible": pool.preemptible,
            "accelerator": (
                f"{pool.accelerator.type}x{pool.accelerator.count}" if pool.accelerator else None
            ),
            "network_tags": list(settings.cluster.network_tags),
            "node_access": settings.gcs.mode,
            "month_usd": month_facts(cost),
            **hardening.pool_facts(settings, pool),
        }
        for pool, cost in zip(pools, costs, strict=True)
    ]


# pool_facts keys GKE cannot change on an existing pool (UpdateNodePoolRequest
# has no such field): apply deletes the pool and creates it again (--replace).
REPLACED_FIELDS = frozenset({"spot", "preemptible", "node_access", *hardening.REPLACED_FACTS})


# ------------------------------------------------------------------ the wanted state


@dataclass(frozen=True)
class Field:
    """One live field apply compares (the runtime's ``want_field`` record).

    ``index`` is the field's 1-based position in the read projection;
    ``compare`` how the runtime compares it (text, bool, count, enum, list,
    contains: see cluster_runtime.sh); ``group`` the update command that
    changes it, or ``replace``.
    """

    group: str
    index: int
    compare: str
    label: str
    want: str


def _pool_fields(settings: Settings, pool: NodePool) -> list[Field]:
    def field(group: str, name: str, compare: str, label: str, want: str) -> Field:
        return Field(group, _field(name), compare, label, want)

    worker = _is_worker_pool(settings, pool)
    accelerator = pool.accelerator
    # Fields that cannot change in place (UpdateNodePoolRequest has none of them).
    fields = [
        field("replace", "config.spot", "bool", "spot", "True" if pool.spot else ""),
        field("replace", "config.preemptible", "bool", "preemptible",
              "True" if pool.preemptible else ""),
    ]  # fmt: skip
    if not accelerator:
        fields.append(field("replace", "config.accelerators[0].acceleratorType", "text",
                            "accelerator", ""))  # fmt: skip
    if settings.gcs.mode == "node_scopes":
        fields.append(field("replace", "config.oauthScopes", "contains", "access scopes",
                            CLOUD_PLATFORM_SCOPE))  # fmt: skip
    fields += [
        field("shape", "config.machineType", "text", "machine type", pool.machine_type),
        field("shape", "config.diskSizeGb", "count", "disk size GB", str(pool.disk_size)),
        field("autoscaling", "autoscaling.enabled", "bool", "autoscaling",
              "True" if pool.autoscaling else ""),
    ]  # fmt: skip
    if pool.autoscaling:
        fields += [
            field("autoscaling", "autoscaling.minNodeCount", "count", "min nodes",
                  str(pool.min_nodes)),
            field("autoscaling", "autoscaling.maxNodeCount", "count", "max nodes",
                  str(pool.max_nodes)),
        ]  # fmt: skip
    if accelerator:
        fields += [
            field("accelerator", "config.accelerators[0].acceleratorType", "text",
                  "accelerator", accelerator.type),
            field("accelerator", "config.accelerators[0].acceleratorCount", "count",
                  "accelerators per node", str(accelerator.count)),
        ]  # fmt: skip
    fields += [
        field("taints", "config.taints[].key", "text", "taint key",
              WORKER_TAINT_KEY if worker else ""),
        field("taints", "config.taints[].value", "text", "taint value",
              WORKER_TAINT_VALUE if worker else ""),
        # The API spells effects in upper snake case (NoSchedule: NO_SCHEDULE).
        field("taints", "config.taints[].effect", "enum", "taint effect",
              "NO_SCHEDULE" if worker else ""),
        field("tags", "config.tags", "list", "network tags",
              ";".join(settings.cluster.network_tags)),
    ]  # fmt: skip
    if settings.gcs.mode == "workload_identity":
        fields.append(field("metadata", "config.workloadMetadataConfig.mode", "enum",
                            "workload metadata", "GKE_METADATA"))  # fmt: skip
    # Private nodes, the nodes' account and Shielded VM (dkgen/render/cluster_hardening.py).
    fields += [field(w.group, w.field, w.compare, w.label, w.want)
               for w in hardening.pool_wants(settings, pool)]  # fmt: skip
    return fields


def _pool_updates(settings: Settings, pool: NodePool) -> list[tuple[str, list[str]]]:
    """Each in-place group's gcloud flags, in the order apply runs them."""
    updates = [
        ("shape", ["--machine-type", pool.machine_type, "--disk-size", str(pool.disk_size)]),
        ("autoscaling", _autoscaling_flags(pool) or ["--no-enable-autoscaling"]),
    ]
    if pool.accelerator:
        updates.append(("accelerator", _accelerator_flag(pool)))
    updates.append(("taints", _taint_flags(settings, pool) or ["--node-taints", ""]))
    updates.append(("tags", ["--tags", ",".join(settings.cluster.network_tags)]))
    if settings.gcs.mode == "workload_identity":
        updates.append(("metadata", ["--workload-metadata", "GKE_METADATA"]))
    return updates + hardening.pool_updates(pool)


def _cluster_fields(settings: Settings) -> list[tuple[Field, list[str] | None]]:
    """Each compared cluster field and its update flags (None: cleared instead)."""
    cluster = settings.cluster
    labels = ";".join(f"{k}={v}" for k, v in cluster.labels)
    rows: list[tuple[Field, list[str] | None]] = [
        (Field("channel", _field("releaseChannel.channel", CLUSTER_FIELDS), "enum",
               "release channel", (cluster.release_channel or "").upper()),
         ["--release-channel", cluster.release_channel or "None"]),
        # gcloud's --update-labels sets exactly the labels given (SetLabelsRequest
        # with those alone), so labels no longer wanted go with the same call.
        (Field("labels", _field("resourceLabels", CLUSTER_FIELDS), "list", "labels", labels),
         ["--update-labels", labels.replace(";", ",")] if labels else None),
    ]  # fmt: skip
    if settings.gcs.mode == "workload_identity":
        pool = _workload_pool(settings)
        rows.append((Field("workload-pool", _field("workloadIdentityConfig.workloadPool",
                                                   CLUSTER_FIELDS),
                           "text", "workload pool", pool), ["--workload-pool", pool]))  # fmt: skip
    # Private nodes by default and the control plane's endpoints (cluster_hardening.py).
    rows += [(Field(w.group, _field(w.field, CLUSTER_FIELDS), w.compare, w.label, w.want), flags)
             for w, flags in hardening.cluster_wants(settings)]  # fmt: skip
    return rows


def _record(*words: object) -> str:
    return "  " + " ".join(_word(w if isinstance(w, str) else str(w)) for w in words)


def _define(kind: str, name: str, verb: str, command: Command) -> str:
    return "  " + _line(["define_command", kind, name, verb, *command], "  ")


def _want_field(kind: str, name: str, field: Field) -> str:
    return _record("want_field", kind, name, field.group, field.index, field.compare,
                   field.label, field.want)  # fmt: skip


def _cluster_state(settings: Settings) -> list[str]:
    lines = [
        "  # The cluster: how to read it, create it, and each field apply compares.",
        _define("cluster", "-", "read", cluster_read_command(settings)),
        _define("cluster", "-", "create", cluster_create_command(settings)),
    ]
    for field, flags in _cluster_fields(settings):
        lines.append(_want_field("cluster", "-", field))
        if flags is None:
            remove = cluster_update_command(settings, ["--remove-labels"])
            lines.append(_define("cluster", "-", f"clear:{field.group}", remove))
        else:
            update = cluster_update_command(settings, flags)
            lines.append(_define("cluster", "-", f"update:{field.group}", update))
    lines += [
        _define("cluster", "-", "credentials", credentials_command(settings)),
        _define("cluster", "-", "status", cluster_status_command(settings)),
        _define("cluster", "-", "delete", cluster_delete_command(settings)),
    ]
    return lines


def _pools_state(settings: Settings) -> list[str]:
    lines = [
        "  # Node pools: their live list, and each pool in order with its fields.",
        _define("pool", "-", "read", pools_read_command(settings)),
        _define("pool", "-", "read-sizes", instance_groups_read_command(settings)),
        _define("pool", "-", "list", pool_list_command(settings)),
        _define("pool", "-", "delete-other", pool_delete_command(settings, None)),
    ]
    for pool in [settings.cluster.core_pool, *(group.pool for group in settings.workers)]:
        role = "worker" if _is_worker_pool(settings, pool) else "core"
        # A fixed-size pool holds num_nodes per zone; an autoscaled one is the autoscaler's.
        nodes = "" if pool.autoscaling else str(pool.num_nodes)
        lines += ["", _record("want_pool", pool.name, role, nodes)]
        lines.append(_define("pool", pool.name, "create", pool_create_command(settings, pool)))
        lines.append(_define("pool", pool.name, "delete", pool_delete_command(settings, pool.name)))
        lines += [_want_field("pool", pool.name, f) for f in _pool_fields(settings, pool)]
        for group, flags in _pool_updates(settings, pool):
            command = pool_update_command(settings, pool, flags)
            lines.append(_define("pool", pool.name, f"update:{group}", command))
        if not pool.autoscaling:
            lines.append(_define("pool", pool.name, "resize", pool_resize_command(settings, pool)))
    return lines


def _node_identity_state(settings: Settings) -> list[str]:
    """The cluster's egress and the nodes' dedicated account with its project roles
    (dkgen/render/cluster_hardening.py): apply makes them before the cluster,
    delete removes them after it."""
    lines = [
        "",
        "  # Egress of private nodes: a Cloud Router and its NAT (cluster_hardening.sh).",
        _record(*hardening.egress_record(settings)),
        *(_define(*definition) for definition in hardening.egress_definitions(settings)),
    ]
    accounts = hardening.node_account_definitions(settings)
    if accounts:
        lines += [
            "",
            "  # The nodes' own account, and its only project roles (retried while IAM",
            "  # propagates a new account).",
            _record("want_account", hardening.node_account(settings)),
            *(_define(*definition) for definition in accounts),
            *(_record("want_grant", *grant, IAM_ATTEMPTS)
              for grant in hardening.project_grants(settings)),
            *(_define(*definition) for definition in hardening.project_grant_definitions(settings)),
        ]  # fmt: skip
    return lines


def _iam_state(settings: Settings) -> list[str]:
    email = settings.gcs.service_account
    lines = ["", "  # Google service accounts this cluster owns, and IAM grants."]
    if settings.gcs.mode == "workload_identity" and email:
        if settings.gcs.managed_account:
            lines += [
                _record("want_account", email),
                _define("account", email, "lookup", account_lookup_command(settings, email)),
                _define("account", email, "create", account_create_command(settings, email)),
                _define("account", email, "delete", account_delete_command(settings, email)),
            ]
        # A new account reaches every IAM server only after a while: its policy
        # calls retry (waits 1, 2, 4, 8, 16 s).
        account = f"service account {email}"
        lines += [
            _record("want_grant", account, workload_identity_member(settings),
                    WORKLOAD_IDENTITY_ROLE, "added", IAM_ATTEMPTS),
            _define("grant", account, "read", account_policy_command(settings, email)),
            _define("grant", account, "add", workload_identity_binding_command(settings, email)),
        ]  # fmt: skip
    grantee = hardening.bucket_grantee(settings)
    if grantee is None:
        return lines if len(lines) > 2 else []
    # The bucket roles go to the account pods act as: Workload Identity's, or
    # under node_scopes the nodes' own. An account dkgen made has exactly what
    # the settings say; a named account's other roles are its owner's: only added.
    member, owned = grantee
    mode = "owned" if owned else "added"
    for bucket in settings.gcs.buckets:
        target = f"bucket {bucket.name}"
        lines += [
            _record("want_grant", target, member, bucket.role, mode, 1),
            _define("grant", target, "read", bucket_policy_command(bucket.name)),
            _define("grant", target, "add", bucket_binding_command("add", bucket.name)),
            _define("grant", target, "remove", bucket_binding_command("remove", bucket.name)),
        ]
    return lines if len(lines) > 2 else []


def _keda_state(settings: Settings) -> list[str]:
    """KEDA, the engine of adaptive groups (dkgen/autoscaling.py), installed by
    apply once kubectl points at the cluster, before `kubectl apply -k`; a
    server-side apply of the pinned release, so re-running it changes nothing."""
    if not adaptive_groups(settings):
        return []
    return [
        "",
        "  # KEDA, which scales the adaptive worker groups.",
        *(_define("keda", "-", verb, command) for verb, command in keda_commands().items()),
    ]


def _wanted_state(settings: Settings) -> str:
    lines = [
        *hardening.run_time_lines(settings),
        *_cluster_state(settings),
        "",
        *_pools_state(settings),
        *_node_identity_state(settings),
        *_iam_state(settings),
        *_keda_state(settings),
    ]
    return "\n".join(line.rstrip() for line in lines)


def _facts_comment(settings: Settings) -> str:
    return "\n".join(
        POOL_FACTS_PREFIX + json.dumps(facts, sort_keys=True, separators=(",", ":"))
        for facts in pool_facts(settings)
    )


USAGE = """\
usage: cluster.sh ACTION [--dry-run] [--yes] [--replace] [--exit-code]

Makes the GKE cluster {name} and its node pools what the settings say.

  apply        create what is missing, update in place what differs, replace
               (--replace) or refuse what GKE cannot change in place, delete
               node pools the settings no longer have (asks unless --yes);
               then point kubectl at the cluster. Re-running it changes nothing.
  create       the same as apply
  diff         print what apply would change, one line per change; change nothing
               (exit 0; with --exit-code, 1 when there are changes)
  credentials  point kubectl at the cluster
  status       show the cluster and its node pools
  delete       delete load balancers, the cluster, then its Cloud Router and NAT
               and the IAM grants and service accounts this script made (asks
               unless --yes); re-runnable

  --dry-run    print each command instead of running it (reads nothing: every
               comparison counts as a change, so every command is shown)
  --yes        do not ask before deleting
  --replace    delete and re-create node pools GKE cannot change in place
  --exit-code  with diff: exit 1 when there are changes"""


@functools.cache
def cluster_runtime() -> str:
    """The reconciler every cluster.sh carries, verbatim (cluster_runtime.sh)."""
    return (Path(__file__).parent / "cluster_runtime.sh").read_text(encoding="utf-8")


def render_cluster_script(settings: Settings, header: str) -> str:
    usage = USAGE.format(name=settings.cluster.name)
    runtime = cluster_runtime().removeprefix("# shellcheck shell=bash\n")
    return f"""#!/usr/bin/env bash
{header}
#
# Makes the GKE cluster {settings.cluster.name} what the settings say: ./cluster.sh --help.
# The node pools as dkgen built them (read by `dkgen check`'s impact report):
{_facts_comment(settings)}
set -euo pipefail

usage() {{
  cat <<'USAGE'
{usage}
USAGE
}}

{runtime}
{hardening.hardening_runtime()}
# ---------------------------------------------------------------- the wanted state
# Rendered by dkgen from the settings: data for the runtime above.

cluster_name={_q(settings.cluster.name)}
url_field={_field("instanceGroupUrls")}
delete_question_suffix={_q(delete_question_suffix(settings))}
project_flag=({" ".join(_q(w) for w in _project(settings))})
keda_version={_q(KEDA_VERSION)}
keda_manifest={_q(KEDA_MANIFEST)}
keda_sha256={_q(keda_manifest_sha256(settings))}

wanted_state() {{
{_wanted_state(settings)}
}}

main "$@"
"""
