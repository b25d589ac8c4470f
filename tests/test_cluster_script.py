"""cluster.sh: the exact commands (golden), quoting, and the script's own control flow.

``tests/cases/<name>/dry-run.txt`` holds what ``cluster.sh ACTION --dry-run``
prints for every action; ``pytest --update-golden`` rewrites it. The flow
tests run the real script against stub ``gcloud``/``kubectl`` executables that
log their arguments, so idempotent create, the delete order and the
confirmation are exercised without any cloud.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.compiler import compile_settings, header
from dkgen.render.cluster_script import render_cluster_script
from tests import validators
from tests.test_golden import CASE_DIRS, case_args

ACTIONS = ["create", "credentials", "status", "delete"]


def dry_run_transcript(script: Path) -> str:
    chunks = []
    for action in ACTIONS:
        result = subprocess.run(
            ["bash", str(script), action, "--dry-run"],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        chunks.append(f"$ cluster.sh {action} --dry-run\n{result.stdout}")
    return "\n".join(chunks)


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_dry_run_prints_the_expected_commands(
    case: Path, request: pytest.FixtureRequest, in_repo: Path, run_dkgen: Any, tmp_path: Path
) -> None:
    # A fresh build, not expected/: one --update-golden run then rewrites both
    # goldens from the same compiler, whatever order the tests run in.
    out = tmp_path / "out"
    assert run_dkgen(*case_args(case, out)).exit_code == 0
    actual = dry_run_transcript(out / "cluster.sh")
    golden = case / "dry-run.txt"
    if request.config.getoption("--update-golden"):
        golden.write_text(actual)
        pytest.skip("dry-run transcript rewritten")
    assert golden.read_text() == actual


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_every_worker_group_targets_its_own_pool(case: Path) -> None:
    out = case / "expected"
    created = {
        command[4]
        for command in validators.gcloud_lines_from_dry_run(out / "cluster.sh", "create")
        if command[1:4] == ["container", "node-pools", "create"]
    }
    deployments = [
        yaml.safe_load(p.read_text()) for p in sorted(out.glob("deployment-dask-worker-*.yaml"))
    ]
    assert deployments
    pools = [d["spec"]["template"]["spec"]["nodeSelector"] for d in deployments]
    assert sorted(p["cloud.google.com/gke-nodepool"] for p in pools) == sorted(created)
    for deployment in deployments:
        tolerations = deployment["spec"]["template"]["spec"]["tolerations"]
        assert {"key": "k8s.dask.org/dedicated", "operator": "Equal", "value": "worker",
                "effect": "NoSchedule"} in tolerations  # fmt: skip


HOSTILE = [
    "two words",
    "it's",
    'say "hi"',
    "$(touch /tmp/dkgen-pwned)",
    "`id`",
    "*",
    "a;b|c&d",
    "line\nbreak",
    "tab\there",
    "back\\slash",
    "ünïcödé",
    "-leading-dash",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_any_value_reaches_gcloud_byte_for_byte(value: str, in_repo: Path, tmp_path: Path) -> None:
    """Bypass the schema (which rejects these) to prove the quoting layer alone holds."""
    settings = compile_settings([Path("examples/three-groups.yaml")]).settings
    cluster = dataclasses.replace(
        settings.cluster,
        name=value,
        project=value,
        region=value,
        network_tags=(value,),
        labels=(("k", value),),
        kubernetes_version=value,
    )
    hostile = dataclasses.replace(settings, cluster=cluster)
    script = tmp_path / "cluster.sh"
    # No shellcheck here: it rightly notes that '$(...)' stays literal in single
    # quotes, which is the point. The shipped scripts are shellchecked in full.
    script.write_text(render_cluster_script(hostile, header(["settings.yaml"])))
    commands = validators.gcloud_lines_from_dry_run(script, "create")
    create = next(c for c in commands if c[1:4] == ["container", "clusters", "create"])
    assert create[4] == value
    for flag, expected in [
        ("--region", value),
        ("--project", value),
        ("--cluster-version", value),
        ("--tags", value),
        ("--labels", f"k={value}"),
    ]:
        assert create[create.index(flag) + 1] == expected, flag
    assert not Path("/tmp/dkgen-pwned").exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cluster.name", "a b"),
        ("cluster.project", "p$(id)"),
        ("cluster.region", "us;east1"),
        ("cluster.network_tags", "['a b']"),
        ("cluster.labels", "{k: 'v v'}"),
        ("cluster.kubernetes_version", "1.33;rm"),
        ("gcs.service_account", "'a b@p.iam.gserviceaccount.com'"),
        ("gcs.buckets", "[{name: 'b*', access: read}]"),
        ("worker_groups", "{'a b': {count: 1}}"),
    ],
)
def test_shell_metacharacters_in_script_settings_are_rejected(
    key: str, value: str, in_repo: Path, run_dkgen: Any, tmp_path: Path
) -> None:
    result = run_dkgen("build", "examples/settings.yaml", "-s", f"{key}={value}", "-o", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"-s {key}={value}: error: {key}")


# ------------------------------------------------------------------ real control flow

STUB = """#!/usr/bin/env bash
printf '%s\\n' "$(basename "$0") $*" >> "$STUB_LOG"
case "$*" in
  *" list "*--filter=*)
    [[ -n "${STUB_LOOKUP_FAILS:-}" ]] && exit 1
    [[ -n "${STUB_EXISTS:-}" ]] && echo found
    ;;
  "get services"*) printf 'dask dask-scheduler\\nweb shop-frontend\\n' ;;
esac
exit 0
"""


@pytest.fixture
def stub_path(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gcloud", "kubectl"):
        path = bin_dir / tool
        path.write_text(STUB)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    log.write_text("")
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log)}


def run_script(
    action: list[str], env: dict[str, str], stdin: str = ""
) -> tuple[int, list[str], str]:
    script = CASE_DIRS[0].parent / "three-groups" / "expected" / "cluster.sh"
    result = subprocess.run(
        ["bash", str(script), *action],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    calls = Path(env["STUB_LOG"]).read_text().splitlines()
    return result.returncode, calls, result.stderr


def test_create_creates_everything_then_fetches_credentials(stub_path: dict[str, str]) -> None:
    code, calls, _ = run_script(["create"], stub_path)
    assert code == 0
    made = [c.split(" --")[0] for c in calls if " create " in c or "add-iam" in c]
    assert made == [
        "gcloud container clusters create dask-research",
        "gcloud container node-pools create workers-default",
        "gcloud container node-pools create workers-gpu",
        "gcloud container node-pools create workers-highmem",
        "gcloud iam service-accounts create dask-research",
        "gcloud iam service-accounts add-iam-policy-binding "
        "dask-research@my-research-project.iam.gserviceaccount.com",
        "gcloud storage buckets add-iam-policy-binding gs://research-raw-data",
        "gcloud storage buckets add-iam-policy-binding gs://research-results",
    ]
    assert calls[-1].startswith("gcloud container clusters get-credentials dask-research")


def test_create_skips_what_exists(stub_path: dict[str, str]) -> None:
    code, calls, stderr = run_script(["create"], {**stub_path, "STUB_EXISTS": "1"})
    assert code == 0
    assert not [c for c in calls if " create " in c]
    assert "cluster.sh: cluster dask-research exists; skipping" in stderr
    assert "cluster.sh: node pool workers-gpu exists; skipping" in stderr


def test_delete_removes_load_balancers_before_the_cluster(stub_path: dict[str, str]) -> None:
    code, calls, _ = run_script(["delete", "--yes"], stub_path)
    assert code == 0
    assert calls[0].startswith("gcloud container clusters get-credentials")
    assert calls[1] == "kubectl delete ingress --all-namespaces --all --wait=true"
    assert calls[2].startswith("kubectl get services --all-namespaces -o jsonpath=")
    assert calls[3:5] == [
        "kubectl delete service --namespace dask dask-scheduler --wait=true",
        "kubectl delete service --namespace web shop-frontend --wait=true",
    ]
    assert calls[-1].startswith("gcloud container clusters delete dask-research")
    assert any(c.startswith("gcloud iam service-accounts delete") for c in calls)


def test_delete_asks_first_and_stops_on_no(stub_path: dict[str, str]) -> None:
    code, calls, stderr = run_script(["delete"], stub_path, stdin="n\n")
    assert code == 1
    assert calls == []
    assert "not deleted" in stderr


def test_create_stops_when_a_lookup_fails(stub_path: dict[str, str]) -> None:
    """A permission or network error must never be taken for "does not exist"."""
    code, calls, stderr = run_script(["create"], {**stub_path, "STUB_LOOKUP_FAILS": "1"})
    assert code == 1
    assert not [c for c in calls if " create " in c]
    assert "could not check whether it exists: gcloud container clusters list" in stderr


@pytest.mark.parametrize("args", [[], ["explode"], ["create", "--force"]])
def test_usage_errors_exit_2(args: list[str], stub_path: dict[str, str]) -> None:
    code, calls, stderr = run_script(args, stub_path)
    assert code == 2
    assert calls == []
    assert stderr.startswith(("usage: cluster.sh", "cluster.sh: unknown argument"))
