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

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from dkgen.autoscaling import adaptive_groups, keda_install_commands
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
)
CLUSTER_FIELDS = (
    "name",
    "releaseChannel.channel",
    "resourceLabels",
    "workloadIdentityConfig.workloadPool",
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


def _join(words: Command) -> str:
    """A command as one line that ``eval`` runs (shlex.join, but run-time words expand)."""
    return " ".join(_word(word) for word in words)


def _call(verb: str, command: Command, indent: str) -> str:
    """``verb`` (run, mutate) and the command, continued at ``indent``."""
    return f"{indent}{verb} {_line(command, indent)}"


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


def pool_delete_command(settings: Settings, name: str) -> list[str]:
    return ["gcloud", "container", "node-pools", "delete", name,
            "--cluster", settings.cluster.name, *_location(settings), "--quiet"]  # fmt: skip


def cluster_update_command(settings: Settings, flags: Sequence[str]) -> list[str]:
    return ["gcloud", "container", "clusters", "update", settings.cluster.name,
            *_location(settings), *flags]  # fmt: skip


def credentials_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "get-credentials", settings.cluster.name,
            *_location(settings), *hardening.credentials_flags(settings)]  # fmt: skip


# Existence checks list with a filter rather than describe: describe fails the
# same way for "not found" and for a permission or network error, and only
# the first may lead to a create.
def cluster_read_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "list", *_location(settings),
            f"--filter=name={settings.cluster.name}", _projection(CLUSTER_FIELDS)]  # fmt: skip


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
            "--project", settings.cluster.project or "", f"--filter=email={email}",
            "--format=value(email)"]  # fmt: skip


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


def workload_identity_binding_command(settings: Settings, email: str) -> list[str]:
    """Let the pods' Kubernetes ServiceAccount act as the Google service account."""
    # --condition=None: gcloud asks which condition otherwise when the policy
    # holds conditional bindings, and cannot ask without a terminal.
    return ["gcloud", "iam", "service-accounts", "add-iam-policy-binding", email,
            "--project", settings.cluster.project or "",
            "--role", "roles/iam.workloadIdentityUser", "--member",
            workload_identity_member(settings), "--condition=None", "--format=none"]  # fmt: skip


def bucket_policy_command(bucket: str) -> list[str]:
    return ["gcloud", "storage", "buckets", "get-iam-policy", f"gs://{bucket}", *_POLICY_FORMAT]


def bucket_binding_command(verb: str, bucket: str, role: str, email: str) -> list[str]:
    return ["gcloud", "storage", "buckets", f"{verb}-iam-policy-binding", f"gs://{bucket}",
            "--member", f"serviceAccount:{email}", "--role", role, "--condition=None",
            "--format=none"]  # fmt: skip


# ------------------------------------------------------------------ facts


@dataclass(frozen=True)
class PoolWant:
    """What apply compares for one pool field: gcloud's projection of the live
    value, the wanted value as that projection prints it, and how a change line
    names it."""

    field: str
    want: str
    label: str


def _pool_wants(settings: Settings, pool: NodePool) -> dict[str, PoolWant]:
    worker = _is_worker_pool(settings, pool)
    accelerator = pool.accelerator
    wants = {
        "machine": PoolWant("config.machineType", pool.machine_type, "machine type"),
        "disk": PoolWant("config.diskSizeGb", str(pool.disk_size), "disk size GB"),
        "autoscaling": PoolWant("autoscaling.enabled", "True" if pool.autoscaling else "",
                                "autoscaling"),
        "spot": PoolWant("config.spot", "True" if pool.spot else "", "spot"),
        "preemptible": PoolWant("config.preemptible", "True" if pool.preemptible else "",
                                "preemptible"),
        "accelerator": PoolWant("config.accelerators[0].acceleratorType",
                                accelerator.type if accelerator else "", "accelerator"),
        "accelerator_count": PoolWant("config.accelerators[0].acceleratorCount",
                                      str(accelerator.count) if accelerator else "",
                                      "accelerators per node"),
        "taint_key": PoolWant("config.taints[].key", WORKER_TAINT_KEY if worker else "",
                              "taint key"),
        "taint_value": PoolWant("config.taints[].value", WORKER_TAINT_VALUE if worker else "",
                                "taint value"),
        # The API spells effects in upper snake case (NoSchedule: NO_SCHEDULE).
        "taint_effect": PoolWant("config.taints[].effect",
                                 "NO_SCHEDULE" if worker else "", "taint effect"),
        "tags": PoolWant("config.tags", ";".join(settings.cluster.network_tags), "network tags"),
    }  # fmt: skip
    if pool.autoscaling:
        wants["min"] = PoolWant("autoscaling.minNodeCount", str(pool.min_nodes), "min nodes")
        wants["max"] = PoolWant("autoscaling.maxNodeCount", str(pool.max_nodes), "max nodes")
    if settings.gcs.mode == "workload_identity":
        wants["metadata"] = PoolWant("config.workloadMetadataConfig.mode", "GKE_METADATA",
                                     "workload metadata")  # fmt: skip
    return wants


def pool_facts(settings: Settings) -> list[dict[str, object]]:
    """Each node pool as plain data: what a change to it means (dkgen.impact)."""
    pools = [settings.cluster.core_pool, *(group.pool for group in settings.workers)]
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
            **hardening.pool_facts(settings, pool),
        }
        for pool in pools
    ]


# pool_facts keys GKE cannot change on an existing pool (UpdateNodePoolRequest
# has no such field): apply deletes the pool and creates it again (--replace).
REPLACED_FIELDS = frozenset({"spot", "preemptible", "node_access", *hardening.REPLACED_FACTS})


# ------------------------------------------------------------------ script parts


_BOOLEAN_FIELDS = ("autoscaling.enabled", "config.spot", "config.preemptible")


def _differs(pool: str, want: PoolWant) -> str:
    kind = "bool" if want.field in _BOOLEAN_FIELDS else "value"
    return f"differs {_q(pool)} {_field(want.field)} {_q(want.want)} {_q(want.label)} {kind}"


def _tests(tests: Sequence[str]) -> str:
    # Each test is a command of its own; a quoted | separates them.
    return " '|' ".join(tests)


def _pool_block(settings: Settings, pool: NodePool) -> str:
    """Create the pool when missing; else update what differs, one call per flag group."""
    wants = _pool_wants(settings, pool)
    name = _q(pool.name)
    replace = [pool_delete_command(settings, pool.name), pool_create_command(settings, pool)]

    def update(keys: Sequence[str], flags: Sequence[str]) -> str:
        tests = _tests([_differs(pool.name, wants[k]) for k in keys if k in wants])
        return (
            f"    if any_differs 'in place' {tests}; then\n"
            f"      mutate {_line(pool_update_command(settings, pool, flags), '      ')}\n"
            f"    fi"
        )

    core = not _is_worker_pool(settings, pool)
    blocks = [
        # GKE creates the core pool with the cluster.
        f"  if ! has_pool {name}{' && ! ((new_cluster))' if core else ''}; then",
        f"    change {_q(f'node pool {pool.name}: create')}",
        f"    mutate {_line(pool_create_command(settings, pool), '    ')}",
        "  fi",
        f"  if has_pool {name} || ((dry_run)); then",
    ]
    # Fields that cannot change in place: replace the pool, or refuse.
    replaced = [wants["spot"], wants["preemptible"]]
    if not pool.accelerator:
        replaced.append(wants["accelerator"])
    checks = [_differs(pool.name, w) for w in replaced]
    if settings.gcs.mode == "node_scopes":
        checks.append(f"has_scope {name} {_field('config.oauthScopes')} {_q(CLOUD_PLATFORM_SCOPE)}")
    blocks += [
        "    pool_replaced=0",
        f"    if any_differs replace {_tests(checks)}; then",
        f"      replace_pool {name} \\",
        f"        {_q(_join(replace[0]))} \\",
        f"        {_q(_join(replace[1]))}",
        "    fi",
        "    # A replaced pool is new; under --dry-run every command is shown.",
        "    if ! ((pool_replaced)) || ((dry_run)); then",
    ]
    inner = [
        update(
            ["machine", "disk"],
            ["--machine-type", pool.machine_type, "--disk-size", str(pool.disk_size)],
        ),
        update(
            ["autoscaling", "min", "max"],
            _autoscaling_flags(pool) or ["--no-enable-autoscaling"],
        ),
    ]
    if pool.accelerator:
        inner.append(update(["accelerator", "accelerator_count"], _accelerator_flag(pool)))
    taints = _taint_flags(settings, pool) or ["--node-taints", ""]
    inner.append(update(["taint_key", "taint_value", "taint_effect"], taints))
    inner.append(update(["tags"], ["--tags", ",".join(settings.cluster.network_tags)]))
    if "metadata" in wants:
        inner.append(update(["metadata"], ["--workload-metadata", "GKE_METADATA"]))
    if not pool.autoscaling:
        # A fixed-size pool holds num_nodes per zone; an autoscaled one is the autoscaler's.
        inner.append(
            f"    if size_differs {name} {pool.num_nodes}; then\n"
            f"      mutate {_line(pool_resize_command(settings, pool), '      ')}\n"
            f"    fi"
        )
    blocks += ["  " + line if line else line for b in inner for line in b.split("\n")]
    blocks += ["    fi", "  fi"]
    return "\n".join(blocks)


def _cluster_block(settings: Settings) -> str:
    cluster = settings.cluster
    channel = (cluster.release_channel or "").upper()
    channel_flag = cluster.release_channel or "None"
    labels_field = _field("resourceLabels", CLUSTER_FIELDS)
    labels = ";".join(f"{k}={v}" for k, v in sorted(cluster.labels))
    lines = [
        "  if ! has_cluster; then",
        f"    change {_q(f'cluster {cluster.name}: create')}",
        f"    mutate {_line(cluster_create_command(settings), '    ')}",
        "    new_cluster=1",
        '    if [[ "$action" == apply ]] && ! ((dry_run)); then',
        "      read_live",
        "    fi",
        "  fi",
        "  if has_cluster || ((dry_run)); then",
        f"    if cluster_differs {_field('releaseChannel.channel', CLUSTER_FIELDS)} "
        f"{_q(channel)} 'release channel'; then",
        _call(
            "mutate",
            cluster_update_command(settings, ["--release-channel", channel_flag]),
            "      ",
        ),
        "    fi",
        f"    if cluster_differs {labels_field} {_q(labels)} labels; then",
    ]
    if cluster.labels:
        # gcloud's --update-labels sets exactly the labels given (SetLabelsRequest
        # with those alone), so labels no longer wanted go with the same call.
        update = ["--update-labels", ",".join(f"{k}={v}" for k, v in cluster.labels)]
        lines.append(f"      mutate {_line(cluster_update_command(settings, update), '      ')}")
    else:
        remove = cluster_update_command(settings, ["--remove-labels"])
        lines.append(f"      remove_labels {labels_field} {_q(_join(remove))}")
    lines.append("    fi")
    if settings.gcs.mode == "workload_identity":
        pool = _workload_pool(settings)
        lines += [
            f"    if cluster_differs "
            f"{_field('workloadIdentityConfig.workloadPool', CLUSTER_FIELDS)} "
            f"{_q(pool)} 'workload pool'; then",
            _call("mutate", cluster_update_command(settings, ["--workload-pool", pool]), "      "),
            "    fi",
        ]
    lines.append("  fi")
    return "\n".join(lines)


def _iam_block(settings: Settings) -> str:
    email = settings.gcs.service_account
    if settings.gcs.mode != "workload_identity" or not email:
        return ""
    lines = ["  new_account=0"]
    if settings.gcs.managed_account:
        lines += [
            f"  if dry_run_or exists {_line(account_lookup_command(settings, email), '  ')}; then",
            "    :",
            "  else",
            f"    change {_q(f'service account {email}: create')}",
            f"    mutate {_line(account_create_command(settings, email), '    ')}",
            "    new_account=1",
            "  fi",
        ]
    member = workload_identity_member(settings)
    role = "roles/iam.workloadIdentityUser"
    lines += [
        "  # A new account reaches every IAM server only after a while: read, bind with retries.",
        "  # (diff cannot read the policy of an account it has not created.)",
        '  if { [[ "$action" == diff ]] && ((new_account)); } ||',
        f"    ! has_binding {_q(f'{role}|{member}')} retry "
        f"{_line(account_policy_command(settings, email), '  ')}; then",
        f"    change {_q(f'service account {email}: let {member} act as it')}",
        f"    mutate retry {_line(workload_identity_binding_command(settings, email), '    ')}",
        "  fi",
    ]
    for bucket in settings.gcs.buckets:
        key = f"{bucket.role}|serviceAccount:{email}"
        lines += [
            f"  if ! has_binding {_q(key)} {_line(bucket_policy_command(bucket.name), '  ')}; then",
            f"    change {_q(f'bucket {bucket.name}: grant {bucket.role} to {email}')}",
            _call("mutate", bucket_binding_command("add", bucket.name, bucket.role, email), "    "),
            "  fi",
        ]
    return "\n".join(lines)


def _apply_body(settings: Settings) -> str:
    pools = [settings.cluster.core_pool, *(group.pool for group in settings.workers)]
    wanted = " ".join(_q(p.name) for p in pools)
    blocks = [
        "  read_live",
        _cluster_block(settings),
        *(_pool_block(settings, pool) for pool in pools),
        f"  delete_other_pools {_q(_join(pool_delete_command(settings, 'POOL')))} {wanted}",
        _iam_block(settings),
    ]
    return "\n".join(b for b in blocks if b)


def _delete_prompt(settings: Settings) -> str:
    # The question names the notebooks' disk when there is one (render/jupyter_home.py).
    suffix = delete_question_suffix(settings)
    return f"Delete GKE cluster $cluster_name and everything on it{suffix}? [y/N] "


def _keda_install(settings: Settings) -> str:
    """KEDA, the engine of adaptive groups (dkgen/autoscaling.py), installed by
    apply once kubectl points at the cluster, before `kubectl apply -k`; a
    server-side apply of the pinned release, so re-running it changes nothing."""
    if not adaptive_groups(settings):
        return ""
    return "\n".join(f"  run {_line(command, '  ')}" for command in keda_install_commands())


def _delete_body(settings: Settings) -> str:
    lines = [
        "  read_live",
        "  if has_cluster || ((dry_run)); then",
        "    credentials",
        "    delete_load_balancers",
        "  fi",
    ]
    email = settings.gcs.service_account
    if settings.gcs.mode == "workload_identity" and email and settings.gcs.managed_account:
        # The account and its grants belong to this cluster; one you named is left alone.
        for bucket in settings.gcs.buckets:
            key = f"{bucket.role}|serviceAccount:{email}"
            lines += [
                f"  if has_binding {_q(key)} tolerate_missing "
                f"{_line(bucket_policy_command(bucket.name), '  ')}; then",
                _call(
                    "run", bucket_binding_command("remove", bucket.name, bucket.role, email), "    "
                ),
                "  fi",
            ]
        lines += [
            f"  if dry_run_or exists {_line(account_lookup_command(settings, email), '  ')}; then",
            f"    run {_line(account_delete_command(settings, email), '    ')}",
            "  fi",
        ]
    lines += [
        "  if has_cluster || ((dry_run)); then",
        f"    run {_line(cluster_delete_command(settings), '    ')}",
        "  else",
        f"    note {_q(f'cluster {settings.cluster.name} does not exist')}",
        "  fi",
    ]
    return "\n".join(lines)


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
  delete       delete load balancers, then the IAM grants and service account
               this script made, then the cluster (asks unless --yes); re-runnable

  --dry-run    print each command instead of running it (reads nothing: every
               comparison counts as a change, so every command is shown)
  --yes        do not ask before deleting
  --replace    delete and re-create node pools GKE cannot change in place
  --exit-code  with diff: exit 1 when there are changes"""


RUNTIME = r"""
# Run a command, or under --dry-run print it shell-quoted on one line.
run() {
  if ((dry_run)); then
    if [[ "$1" == retry ]]; then
      shift
    fi
    local quoted
    printf -v quoted '%q ' "$@"
    printf '%s\n' "${quoted% }"
  else
    "$@"
  fi
}

note() {
  printf 'cluster.sh: %s\n' "$1" >&2
}

# One change apply makes: diff prints it on stdout, apply announces it on stderr.
change() {
  changes=$((changes + 1))
  if [[ "$action" == diff ]]; then
    printf '%s\n' "$1"
  else
    note "$1"
  fi
}

# A request that changes the cloud: apply runs it, diff only counts it.
mutate() {
  if [[ "$action" == diff ]]; then
    return 0
  fi
  run "$@"
}

fail_lookup() {
  note "could not read the live state: $*"
  exit 1
}

# Under --dry-run: print the lookup and take it as "not found".
dry_run_or() {
  if ((dry_run)); then
    run "${@:2}"
    return 1
  fi
  "$@"
}

# True when a lookup command prints something. A lookup that fails (no
# permission, no network) stops the script rather than passing for "missing".
exists() {
  local found
  if ! found="$("$@")"; then
    fail_lookup "$*"
  fi
  [[ -n "$found" ]]
}

# Run a command until it succeeds, at most iam_attempts times, waiting 1, 2, 4 … s.
retry() {
  local attempt=1 wait=1
  until "$@"; do
    if ((attempt >= iam_attempts)); then
      return 1
    fi
    note "retrying in ${wait}s (IAM reaches new accounts slowly): $1 $2 $3 $4"
    sleep "$wait"
    attempt=$((attempt + 1))
    wait=$((wait * 2))
  done
}

# Read a policy that may be missing (a deleted bucket or account): empty then.
tolerate_missing() {
  if ! "$@" 2>/dev/null; then
    note "could not read the IAM policy of $5; taken as holding nothing"
  fi
}

# has_binding 'ROLE|MEMBER' COMMAND…: whether the policy COMMAND prints holds it.
has_binding() {
  local want="$1" policy
  shift
  if ((dry_run)); then
    if [[ "$1" == retry || "$1" == tolerate_missing ]]; then
      shift
    fi
    run "$@"
    return 1
  fi
  if ! policy="$("$@")"; then
    fail_lookup "${*:2}"
  fi
  grep -Fxq -- "$want" <<<"$policy"
}

live_cluster=""
live_pools=""
live_groups=""

# The live cluster, its node pools and their instance groups, read once.
read_live() {
  if ((dry_run)); then
    run "${read_cluster[@]}"
    run "${read_pools[@]}"
    run "${read_groups[@]}"
    return
  fi
  live_cluster="$("${read_cluster[@]}")" || fail_lookup "${read_cluster[*]}"
  live_cluster="$(awk -F'|' -v name="$cluster_name" '$1 == name' <<<"$live_cluster")"
  if [[ -n "$live_cluster" ]]; then
    live_pools="$("${read_pools[@]}")" || fail_lookup "${read_pools[*]}"
    live_groups="$("${read_groups[@]}")" || fail_lookup "${read_groups[*]}"
  fi
}

has_cluster() {
  [[ -n "$live_cluster" ]]
}

has_pool() {
  [[ -n "$live_pools" ]] &&
    awk -F'|' -v pool="$1" '$1 == pool {found = 1} END {exit !found}' <<<"$live_pools"
}

pool_field() {
  awk -F'|' -v pool="$1" -v field="$2" '$1 == pool {print $field}' <<<"$live_pools"
}

# The pool's node counts per zone, distinct, comma-separated (from its instance groups).
pool_sizes() {
  local urls
  urls="$(pool_field "$1" "$url_field")"
  awk -F'|' -v urls="$urls" '
    BEGIN {
      n = split(urls, u, ";")
      for (i = 1; i <= n; i++) { sub(/.*\//, "", u[i]); mine[u[i]] = 1 }
    }
    ($1 in mine) && !seen[$2]++ { sizes = sizes (sizes == "" ? "" : ",") $2 }
    END { print sizes }' <<<"$live_groups"
}

# How a live or wanted value reads in a change line.
shown() {
  if [[ "$2" == bool ]]; then
    [[ "$1" == True ]] && echo on || echo off
  else
    echo "${1:-none}"
  fi
}

# differs POOL FIELD WANT LABEL KIND: note a change and succeed when the live field is not WANT.
differs() {
  if ((dry_run)); then
    return 0
  fi
  local live
  live="$(pool_field "$1" "$2")"
  if [[ "$live" == "$3" ]]; then
    return 1
  fi
  pending+=("node pool $1: $4 $(shown "$live" "$5") -> $(shown "$3" "$5")")
}

# any_differs HOW TEST '|' TEST …: run each test; report each change found
# (HOW: in place or replace) and succeed when there was one.
any_differs() {
  local how="$1" words=() found=1 word
  shift
  pending=()
  for word in "$@" "|"; do
    if [[ "$word" == "|" ]]; then
      if "${words[@]}"; then
        found=0
      fi
      words=()
    else
      words+=("$word")
    fi
  done
  local line
  for line in "${pending[@]}"; do
    change "$line ($how)"
  done
  return "$found"
}

has_scope() {
  local scopes
  scopes="$(pool_field "$1" "$2")"
  if [[ ";$scopes;" == *";$3;"* ]]; then
    return 1
  fi
  pending+=("node pool $1: access scopes ${scopes:-none} -> $3")
}

size_differs() {
  if ((dry_run)); then
    return 0
  fi
  local live
  live="$(pool_sizes "$1")"
  if [[ "$live" == "$2" ]]; then
    return 1
  fi
  change "node pool $1: nodes per zone ${live:-none} -> $2 (in place)"
}

cluster_differs() {
  if ((dry_run)); then
    return 0
  fi
  local live
  live="$(awk -F'|' -v field="$1" '{print $field}' <<<"$live_cluster")"
  if [[ "$1" == "$labels_field" ]]; then
    live="$(tr ';' '\n' <<<"$live" | sort | paste -sd';' -)"
  fi
  if [[ "$live" == "$2" ]]; then
    return 1
  fi
  change "cluster $cluster_name: $3 ${live:-none} -> ${2:-none} (in place)"
}

# remove_labels FIELD 'COMMAND': remove every live label (none is wanted).
remove_labels() {
  local live keys
  live="$(awk -F'|' -v field="$1" '{print $field}' <<<"$live_cluster")"
  if ((dry_run)); then
    eval "mutate $2 KEY"
  elif [[ -n "$live" ]]; then
    printf -v keys '%q' "$(tr ';' '\n' <<<"$live" | cut -d= -f1 | paste -sd, -)"
    eval "mutate $2 $keys"
  fi
}

# replace_pool POOL 'DELETE' 'CREATE': GKE cannot change these fields in place.
replace_pool() {
  pool_replaced=1
  if ((replace || dry_run)) || [[ "$action" == diff ]]; then
    eval "mutate $2"
    eval "mutate $3"
    return
  fi
  note "node pool $1: GKE cannot change the above in place. To replace the pool (its nodes"
  note "  and the pods on them go away, then come back on new nodes), run"
  note "  ./cluster.sh apply --replace, or by hand: $2 && $3"
  refused=1
}

confirm() {
  if ((assume_yes || dry_run)) || [[ "$action" == diff ]]; then
    return 0
  fi
  local answer
  read -r -p "$1 [y/N] " answer || answer=""
  [[ "$answer" == [yY] ]]
}

# delete_other_pools 'DELETE POOL' WANTED…: node pools the settings no longer have.
delete_other_pools() {
  local command="$1" pool
  shift
  if ((dry_run)); then
    note "then each node pool the settings do not name: ${command/POOL/NAME}"
    return
  fi
  while IFS='|' read -r pool _; do
    if [[ -z "$pool" || " $* " == *" $pool "* ]]; then
      continue
    fi
    change "node pool $pool: delete"
    if [[ "$action" == diff ]]; then
      continue
    fi
    if confirm "Delete node pool $pool and the pods on it?"; then
      eval "run ${command/POOL/$(printf '%q' "$pool")}"
    else
      note "node pool $pool kept"
      refused=1
    fi
  done <<<"$live_pools"
}
"""


def render_cluster_script(settings: Settings, header: str) -> str:
    name = _q(settings.cluster.name)
    usage = USAGE.format(name=settings.cluster.name)

    def array(command: Command) -> str:
        return "(" + _line(command, "  ") + ")"

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

cluster_name={name}
dry_run=0
assume_yes=0
replace=0
exit_code=0
action=""
for arg in "$@"; do
  case "$arg" in
    apply | create) action=apply ;;
    diff | credentials | status | delete) action="$arg" ;;
    --dry-run) dry_run=1 ;;
    --yes) assume_yes=1 ;;
    --replace) replace=1 ;;
    --exit-code) exit_code=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "cluster.sh: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done
if [[ -z "$action" ]]; then
  usage >&2
  exit 2
fi

changes=0
refused=0
pending=()
new_cluster=0
pool_replaced=0
iam_attempts={IAM_ATTEMPTS}
url_field={_field("instanceGroupUrls")}
labels_field={_field("resourceLabels", CLUSTER_FIELDS)}
read_cluster={array(cluster_read_command(settings))}
read_pools={array(pools_read_command(settings))}
read_groups={array(instance_groups_read_command(settings))}
{RUNTIME}
credentials() {{
  run {_line(credentials_command(settings), "")}
}}

# Ingresses and Services of type LoadBalancer, in every namespace, own cloud
# forwarding rules; their finalizers hold the delete until the rules are gone.
delete_load_balancers() {{
  run kubectl delete ingress --all-namespaces --all --wait=true
  if ((dry_run)); then
    note "then each Service of type LoadBalancer: kubectl delete service --namespace NS NAME"
    return
  fi
  local jsonpath namespace service
  jsonpath='{{range .items[?(@.spec.type=="LoadBalancer")]}}'
  jsonpath+='{{.metadata.namespace}} {{.metadata.name}}{{"\\n"}}{{end}}'
  kubectl get services --all-namespaces -o "jsonpath=$jsonpath" |
    while read -r namespace service; do
      run kubectl delete service --namespace "$namespace" "$service" --wait=true
    done
}}

# apply and diff share this walk; mutate and change know which one runs.
walk() {{
{_apply_body(settings)}
}}

apply() {{
  walk
  if ((refused)); then
    note "not everything was applied (see above); the rest is done"
    exit 1
  fi
  if ((changes == 0)); then
    note "cluster $cluster_name matches the settings; nothing to change"
  fi
  credentials
{_keda_install(settings)}
}}

diff() {{
  walk
  if ((exit_code && changes)); then
    exit 1
  fi
}}

status() {{
  run {_line(cluster_status_command(settings), "")}
  run {_line(pool_list_command(settings), "")}
}}

delete() {{
  if ((!assume_yes && !dry_run)); then
    read -r -p "{_delete_prompt(settings)}" answer
    if [[ "$answer" != [yY] ]]; then
      note "not deleted"
      exit 1
    fi
  fi
{_delete_body(settings)}
}}

"$action"
"""
