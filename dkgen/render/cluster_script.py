"""``cluster.sh``: create, inspect and delete the GKE cluster, its pools and IAM bindings.

Every word of every command is built here as a Python string and written
through :func:`shlex.quote`, so no setting can split words, glob or
substitute commands in the script (the schema rejects most such characters
first). Commands run through ``run``, which ``--dry-run`` turns into
printing the command, shell-quoted, one per line: the reviewer sees exactly
what would run, and the tests feed those lines to gcloud's own parser.

Order matters on the way down: Services of type LoadBalancer and Ingresses
own Google Cloud forwarding rules that outlive the cluster, so ``delete``
removes them (and waits, through their cleanup finalizers) before the
cluster itself.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from dkgen.render.common import SERVICE_ACCOUNT
from dkgen.render.workers import WORKER_TAINT_EFFECT, WORKER_TAINT_KEY, WORKER_TAINT_VALUE
from dkgen.settings import NodePool, Settings

Command = Sequence[str]


def _line(words: Command, indent: str) -> str:
    """One command, subcommand words on the first line, one flag per continuation line."""
    quoted = [shlex.quote(word) for word in words]
    lines: list[str] = []
    for word in quoted:
        if word.startswith("--") or not lines:
            lines.append(word)
        elif lines[-1].startswith("--"):
            lines[-1] += " " + word  # the flag's value
        else:
            lines[-1] += " " + word  # still the subcommand
    return f" \\\n{indent}  ".join(lines)


# ------------------------------------------------------------------ flags


def _location(settings: Settings) -> list[str]:
    cluster = settings.cluster
    flags = ["--region", cluster.region] if cluster.region else ["--zone", cluster.zone or ""]
    if cluster.project:
        flags += ["--project", cluster.project]
    return flags


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


def _pool_shape(pool: NodePool) -> list[str]:
    flags = [
        "--machine-type", pool.machine_type,
        "--num-nodes", str(pool.num_nodes),
        "--disk-size", str(pool.disk_size),
    ]  # fmt: skip
    if pool.autoscaling:
        flags += [
            "--enable-autoscaling",
            "--min-nodes", str(pool.min_nodes),
            "--max-nodes", str(pool.max_nodes),
        ]  # fmt: skip
    if pool.spot:
        flags.append("--spot")
    if pool.preemptible:
        flags.append("--preemptible")
    if pool.accelerator:
        # gpu-driver-version=default: GKE installs the driver, no DaemonSet to apply.
        flags += [
            "--accelerator",
            f"type={pool.accelerator.type},count={pool.accelerator.count},"
            "gpu-driver-version=default",
        ]
    return flags


# ------------------------------------------------------------------ commands


def cluster_create_command(settings: Settings) -> list[str]:
    """The cluster and its initial pool, which is the core pool (GKE: default-pool)."""
    cluster = settings.cluster
    words = ["gcloud", "container", "clusters", "create", cluster.name, *_location(settings)]
    if cluster.release_channel:
        words += ["--release-channel", cluster.release_channel]
    if cluster.kubernetes_version:
        words += ["--cluster-version", cluster.kubernetes_version]
    words += _pool_shape(cluster.core_pool)
    # Dataplane V2 enforces NetworkPolicy; VPC-native networking is its prerequisite.
    words += ["--enable-dataplane-v2", "--enable-ip-alias"]
    if settings.gcs.mode == "workload_identity":
        words += ["--workload-pool", f"{cluster.project}.svc.id.goog"]
    words += _node_access(settings)
    if cluster.labels:
        words += ["--labels", ",".join(f"{k}={v}" for k, v in cluster.labels)]
    words += _tags(settings)
    return words


def pool_create_command(settings: Settings, pool: NodePool) -> list[str]:
    return [
        "gcloud", "container", "node-pools", "create", pool.name,
        "--cluster", settings.cluster.name,
        *_location(settings),
        *_pool_shape(pool),
        # Only worker pods tolerate this taint, so nothing else lands on the pool.
        "--node-taints", f"{WORKER_TAINT_KEY}={WORKER_TAINT_VALUE}:{WORKER_TAINT_EFFECT}",
        *_node_access(settings),
        *_tags(settings),
    ]  # fmt: skip


def credentials_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "get-credentials", settings.cluster.name,
            *_location(settings)]  # fmt: skip


# Existence checks list with a filter rather than describe: describe fails the
# same way for "not found" and for a permission or network error, and only
# the first may lead to a create.
def cluster_lookup_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "list", *_location(settings),
            f"--filter=name={settings.cluster.name}", "--format=value(name)"]  # fmt: skip


def cluster_status_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "describe", settings.cluster.name,
            *_location(settings), "--format=value(name,status,currentMasterVersion)"]  # fmt: skip


def pool_lookup_command(settings: Settings, pool: NodePool) -> list[str]:
    return ["gcloud", "container", "node-pools", "list", "--cluster", settings.cluster.name,
            *_location(settings), f"--filter=name={pool.name}",
            "--format=value(name)"]  # fmt: skip


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


def workload_identity_binding_command(settings: Settings, email: str) -> list[str]:
    """Let the pods' Kubernetes ServiceAccount act as the Google service account."""
    member = (
        f"serviceAccount:{settings.cluster.project}.svc.id.goog"
        f"[{settings.namespace}/{SERVICE_ACCOUNT}]"
    )
    return ["gcloud", "iam", "service-accounts", "add-iam-policy-binding", email,
            "--project", settings.cluster.project or "",
            "--role", "roles/iam.workloadIdentityUser", "--member", member,
            "--format=none"]  # fmt: skip


def bucket_binding_command(verb: str, bucket: str, role: str, email: str) -> list[str]:
    return ["gcloud", "storage", "buckets", f"{verb}-iam-policy-binding", f"gs://{bucket}",
            "--member", f"serviceAccount:{email}", "--role", role, "--format=none"]  # fmt: skip


# ------------------------------------------------------------------ script


def _if_missing(lookup: Command, create: Command, what: str) -> str:
    """Create something unless a lookup command finds it (idempotent create)."""
    return (
        f"  if exists {_line(lookup, '  ')}; then\n"
        f"    note {shlex.quote(f'{what} exists; skipping')}\n"
        f"  else\n"
        f"    run {_line(create, '    ')}\n"
        f"  fi"
    )


def _create_body(settings: Settings) -> str:
    blocks = [
        _if_missing(
            cluster_lookup_command(settings),
            cluster_create_command(settings),
            f"cluster {settings.cluster.name}",
        )
    ]
    blocks += [
        _if_missing(
            pool_lookup_command(settings, group.pool),
            pool_create_command(settings, group.pool),
            f"node pool {group.pool.name}",
        )
        for group in settings.workers
    ]
    email = settings.gcs.service_account
    if settings.gcs.mode == "workload_identity" and email:
        if settings.gcs.managed_account:
            blocks.append(
                _if_missing(
                    account_lookup_command(settings, email),
                    account_create_command(settings, email),
                    f"service account {email}",
                )
            )
        # Adding a binding that exists is a no-op, so these need no check.
        blocks.append(f"  run {_line(workload_identity_binding_command(settings, email), '  ')}")
        blocks += [
            f"  run {_line(bucket_binding_command('add', b.name, b.role, email), '  ')}"
            for b in settings.gcs.buckets
        ]
    blocks.append("  credentials")
    return "\n".join(blocks)


def _delete_body(settings: Settings) -> str:
    lines = [
        "  credentials",
        "  delete_load_balancers",
    ]
    email = settings.gcs.service_account
    if settings.gcs.mode == "workload_identity" and email and settings.gcs.managed_account:
        # The account and its grants belong to this cluster; one you named is left alone.
        lines += [
            f"  run {_line(bucket_binding_command('remove', b.name, b.role, email), '  ')}"
            for b in settings.gcs.buckets
        ]
        lines.append(f"  run {_line(account_delete_command(settings, email), '  ')}")
    lines.append(f"  run {_line(cluster_delete_command(settings), '  ')}")
    return "\n".join(lines)


def render_cluster_script(settings: Settings, header: str) -> str:
    name = shlex.quote(settings.cluster.name)
    return f"""#!/usr/bin/env bash
{header}
#
# Creates, inspects and deletes a GKE cluster (cluster_name below) and its node pools.
#   ./cluster.sh create       create the cluster, node pools and IAM bindings (skips
#                             what exists), then point kubectl at the cluster
#   ./cluster.sh credentials  point kubectl at the cluster
#   ./cluster.sh status       show the cluster and its node pools
#   ./cluster.sh delete       delete load balancers first, then the cluster (asks first)
# Options: --dry-run prints each command instead of running it; --yes skips the question.
set -euo pipefail

cluster_name={name}
dry_run=0
assume_yes=0
action=""
for arg in "$@"; do
  case "$arg" in
    create | credentials | status | delete) action="$arg" ;;
    --dry-run) dry_run=1 ;;
    --yes) assume_yes=1 ;;
    -h | --help)
      sed -n '4,11p' "$0"
      exit 0
      ;;
    *)
      echo "cluster.sh: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done
if [[ -z "$action" ]]; then
  echo "usage: cluster.sh create|credentials|status|delete [--dry-run] [--yes]" >&2
  exit 2
fi

# Run a command, or under --dry-run print it shell-quoted on one line.
run() {{
  if ((dry_run)); then
    local quoted
    printf -v quoted '%q ' "$@"
    printf '%s\\n' "${{quoted% }}"
  else
    "$@"
  fi
}}

# True when a lookup command prints something. A lookup that fails (no
# permission, no network) stops the script rather than passing for "missing".
# Under --dry-run nothing is asked, so every create command is printed.
exists() {{
  if ((dry_run)); then
    return 1
  fi
  local found
  if ! found="$("$@")"; then
    note "could not check whether it exists: $*"
    exit 1
  fi
  [[ -n "$found" ]]
}}

note() {{
  printf 'cluster.sh: %s\\n' "$1" >&2
}}

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

create() {{
{_create_body(settings)}
}}

status() {{
  run {_line(cluster_status_command(settings), "")}
  run {_line(pool_list_command(settings), "")}
}}

delete() {{
  if ((!assume_yes && !dry_run)); then
    read -r -p "Delete GKE cluster $cluster_name and everything on it? [y/N] " answer
    if [[ "$answer" != [yY] ]]; then
      note "not deleted"
      exit 1
    fi
  fi
{_delete_body(settings)}
}}

"$action"
"""
