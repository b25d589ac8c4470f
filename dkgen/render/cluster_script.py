"""``cluster.sh``: create, inspect and delete the GKE cluster and its node pools.

Every value that comes from settings passes through :func:`shlex.quote`
here, so no setting can split words, glob or substitute commands in the
script (the schema also rejects most such characters first). The script runs
each command through ``run``, which ``--dry-run`` turns into printing the
command, shell-quoted, one per line: the reviewer sees exactly what would run.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from dkgen.render.workers import WORKER_TAINT_EFFECT, WORKER_TAINT_KEY, WORKER_TAINT_VALUE
from dkgen.settings import NodePool, Settings

Command = Sequence[str]


def _line(words: Command, indent: str) -> str:
    """One command, one flag per continuation line, every word quoted."""
    quoted = [shlex.quote(word) for word in words]
    head: list[str] = []
    rest = iter(quoted)
    # Keep the subcommand words together on the first line, flags below.
    for word in rest:
        if word.startswith("--"):
            lines = [" ".join(head), word]
            for flag in rest:
                if flag.startswith("--"):
                    lines.append(flag)
                else:
                    lines[-1] += " " + flag
            return f" \\\n{indent}  ".join(lines)
        head.append(word)
    return " ".join(head)


def _location(settings: Settings) -> list[str]:
    flags = ["--zone", settings.cluster.zone]
    if settings.cluster.project:
        flags += ["--project", settings.cluster.project]
    return flags


def _autoscaling(pool: NodePool) -> list[str]:
    if not pool.autoscaling:
        return []
    return [
        "--enable-autoscaling",
        "--min-nodes",
        str(pool.min_nodes),
        "--max-nodes",
        str(pool.max_nodes),
    ]


def cluster_create_command(settings: Settings) -> list[str]:
    core = settings.cluster.core_pool
    return [
        "gcloud", "container", "clusters", "create", settings.cluster.name,
        *_location(settings),
        "--machine-type", core.machine_type,
        "--num-nodes", str(core.num_nodes),
        "--disk-size", str(core.disk_size),
        # Dataplane V2 enforces NetworkPolicy objects.
        "--enable-dataplane-v2",
        "--enable-ip-alias",
        "--node-labels", "dask.org/pool=core",
        "--quiet",
    ]  # fmt: skip


def pool_create_command(settings: Settings, pool: NodePool) -> list[str]:
    return [
        "gcloud", "container", "node-pools", "create", pool.name,
        "--cluster", settings.cluster.name,
        *_location(settings),
        "--machine-type", pool.machine_type,
        "--num-nodes", str(pool.num_nodes),
        "--disk-size", str(pool.disk_size),
        *_autoscaling(pool),
        *(["--preemptible"] if pool.preemptible else []),
        "--node-labels", f"dask.org/pool={pool.name}",
        "--node-taints", f"{WORKER_TAINT_KEY}={WORKER_TAINT_VALUE}:{WORKER_TAINT_EFFECT}",
        "--quiet",
    ]  # fmt: skip


def credentials_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "get-credentials", settings.cluster.name,
            *_location(settings)]  # fmt: skip


def cluster_describe_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "describe", settings.cluster.name,
            *_location(settings), "--format=value(name)"]  # fmt: skip


def pool_describe_command(settings: Settings, pool: NodePool) -> list[str]:
    return ["gcloud", "container", "node-pools", "describe", pool.name,
            "--cluster", settings.cluster.name, *_location(settings),
            "--format=value(name)"]  # fmt: skip


def pool_list_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "node-pools", "list", "--cluster", settings.cluster.name,
            *_location(settings)]  # fmt: skip


def cluster_delete_command(settings: Settings) -> list[str]:
    return ["gcloud", "container", "clusters", "delete", settings.cluster.name,
            *_location(settings), "--quiet"]  # fmt: skip


def render_cluster_script(settings: Settings, header: str) -> str:
    name = shlex.quote(settings.cluster.name)
    namespace = shlex.quote(settings.namespace)
    pools = [group.pool for group in settings.workers]
    pool_blocks = "\n".join(
        f"""  if exists {_line(pool_describe_command(settings, pool), "  ")}; then
    note {shlex.quote(f"node pool {pool.name} exists; skipping")}
  else
    run {_line(pool_create_command(settings, pool), "    ")}
  fi"""
        for pool in pools
    )
    return f"""#!/usr/bin/env bash
{header}
#
# Creates, inspects and deletes the GKE cluster {name} and its node pools.
#   ./cluster.sh create       create the cluster and node pools (skips those that exist),
#                             then point kubectl at the cluster
#   ./cluster.sh credentials  point kubectl at the cluster
#   ./cluster.sh status       show the cluster's node pools
#   ./cluster.sh delete       delete load balancers first, then the cluster (asks first)
# Options: --dry-run prints each command instead of running it; --yes skips the question.
set -euo pipefail

dry_run=0
assume_yes=0
action=""
for arg in "$@"; do
  case "$arg" in
    create | credentials | status | delete) action="$arg" ;;
    --dry-run) dry_run=1 ;;
    --yes) assume_yes=1 ;;
    -h | --help)
      sed -n '5,11p' "$0"
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

# True when a describe command succeeds. Under --dry-run nothing is asked, so
# every create command is printed.
exists() {{
  if ((dry_run)); then
    return 1
  fi
  "$@" >/dev/null 2>&1
}}

note() {{
  printf 'cluster.sh: %s\\n' "$1" >&2
}}

credentials() {{
  run {_line(credentials_command(settings), "")}
}}

create() {{
  if exists {_line(cluster_describe_command(settings), "  ")}; then
    note {shlex.quote(f"cluster {settings.cluster.name} exists; skipping")}
  else
    run {_line(cluster_create_command(settings), "    ")}
  fi
{pool_blocks}
  credentials
}}

status() {{
  run {_line(pool_list_command(settings), "")}
}}

delete() {{
  if ((!assume_yes && !dry_run)); then
    read -r -p "Delete GKE cluster {name} and everything on it? [y/N] " answer
    if [[ "$answer" != [yY] ]]; then
      note "not deleted"
      exit 1
    fi
  fi
  # Services of type LoadBalancer and Ingresses own Google Cloud forwarding
  # rules that outlive the cluster; delete them and wait, then the cluster.
  credentials
  run kubectl delete service,ingress --namespace {namespace} --all --wait=true --ignore-not-found
  run {_line(cluster_delete_command(settings), "")}
}}

"$action"
"""
