"""cluster.sh: the exact commands (golden), quoting, and the script's own control flow.

``tests/cases/<name>/dry-run.txt`` holds what ``cluster.sh ACTION --dry-run``
prints for every action; ``pytest --update-golden`` rewrites it.
tests/test_cluster_apply.py runs apply, diff and delete through the real
gcloud against an emulated Google Cloud.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen import records
from dkgen.compiler import compile_settings, header
from dkgen.render import cluster_script
from dkgen.render.cluster_script import render_cluster_script
from tests import validators
from tests.test_golden import CASE_DIRS, case_args

ACTIONS = ["apply", "diff", "credentials", "status", "delete"]


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
        for command in validators.gcloud_lines_from_dry_run(out / "cluster.sh", "apply")
        # default-pool, the core pool, appears only in its replacement.
        if command[1:4] == ["container", "node-pools", "create"] and command[4] != "default-pool"
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
    cluster = records.replace(
        settings.cluster,
        name=value,
        project=value,
        region=value,
        network_tags=(value,),
        labels=(("k", value),),
        kubernetes_version=value,
    )
    hostile = records.replace(settings, cluster=cluster)
    script = tmp_path / "cluster.sh"
    # No shellcheck here: it rightly notes that '$(...)' stays literal in single
    # quotes, which is the point. The shipped scripts are shellchecked in full.
    script.write_text(render_cluster_script(hostile, header(["settings.yaml"])))
    commands = validators.gcloud_lines_from_dry_run(script, "apply")
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


# ------------------------------------------------------------------ usage

SCRIPT = CASE_DIRS[0].parent / "three-groups" / "expected" / "cluster.sh"


@pytest.mark.parametrize("args", [[], ["explode"], ["apply", "--force"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                            check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(("usage: cluster.sh", "cluster.sh: unknown argument"))


def test_help_prints_the_usage() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True,
                            check=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.stdout.startswith("usage: cluster.sh ACTION")
    for action in ("apply", "create", "diff", "credentials", "status", "delete"):
        assert f"\n  {action} " in result.stdout, action
    assert "set -euo pipefail" not in result.stdout


def test_delete_asks_first_and_stops_without_a_terminal(tmp_path: Path) -> None:
    """Nothing runs (no gcloud: the empty PATH would fail it) before the answer,
    and the answer comes from the terminal only: a "y" on stdin does not count.
    start_new_session: no controlling terminal, as under CI."""
    import shutil

    for tool in ("mktemp", "rm"):  # the script's temporary file; no gcloud, no kubectl
        (tmp_path / tool).symlink_to(shutil.which(tool) or tool)
    result = subprocess.run(["/bin/bash", str(SCRIPT), "delete"], input="y\n",
                            capture_output=True, text=True, check=False,
                            env={"PATH": str(tmp_path)}, start_new_session=True)  # fmt: skip
    assert result.returncode == 1
    assert "no terminal to ask: Delete GKE cluster dask-research" in result.stderr
    assert "--yes" in result.stderr


# ------------------------------------------------------------------ the runtime

RUNTIME = Path(cluster_script.__file__).parent / "cluster_runtime.sh"


def test_the_runtime_is_shellcheck_clean_on_its_own() -> None:
    validators.shellcheck(RUNTIME)


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_every_script_carries_the_runtime_verbatim(case: Path) -> None:
    """One runtime, byte for byte in every cluster.sh: a dkgen upgrade that
    changes it shows as one hunk of `git diff out/`, the same in every build."""
    runtime = RUNTIME.read_text().removeprefix("# shellcheck shell=bash\n")
    assert runtime in (case / "expected" / "cluster.sh").read_text()


HARDENING_RUNTIME = RUNTIME.with_name("cluster_hardening.sh")


def test_the_hardening_runtime_is_shellcheck_clean_on_its_own() -> None:
    validators.shellcheck(HARDENING_RUNTIME)


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_every_script_carries_the_hardening_runtime(case: Path) -> None:
    """The router and NAT reconciler (issue 21), as the file says, after the runtime."""
    lines = HARDENING_RUNTIME.read_text().splitlines(keepends=True)
    body = "".join(line for line in lines if not line.startswith("# shellcheck "))
    assert body in (case / "expected" / "cluster.sh").read_text()


# ------------------------------------------------------------------ KEDA's checked install

KEDA_FILE = b"kind: Namespace\n"  # what the fake curl "downloads"
FAKE_CURL = """#!/usr/bin/env bash
# The last word is the file curl writes (cluster.sh: --output FILE).
printf 'kind: Namespace\\n' > "${@: -1}"
"""
FAKE_KUBECTL = """#!/usr/bin/env bash
printf '%s\\n' "kubectl $*" >> "$KUBECTL_LOG"
"""
# The runtime's KEDA steps on their own: cluster.sh without its last line
# (`main "$@"`) is sourced, the wanted state loaded, the cluster taken as
# absent (no gcloud runs), then diff's walk step or apply's install step.
KEDA_STEP = """
source <(sed '$d' "$1")
err_file=/dev/null dry_run=0 action="$2"
wanted_state
has_cluster() { return 1; }
reconcile_keda
if [[ "$2" == apply ]]; then install_keda; fi
"""


def _keda_step(
    tmp_path: Path, action: str, digest: str | None, run_dkgen: Any
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Builds examples/adaptive.yaml with ``keda.manifest_sha256: digest`` and runs
    the runtime's KEDA step of ``action``; returns the run and kubectl's log."""
    tmp_path.mkdir(exist_ok=True)
    settings = tmp_path / "pin.yaml"
    settings.write_text(yaml.safe_dump({"keda": {"manifest_sha256": digest}}))
    out = tmp_path / "out"
    adaptive = Path(__file__).parent.parent / "examples" / "adaptive.yaml"
    built = run_dkgen("build", str(adaptive), str(settings), "-o", str(out))
    assert built.exit_code == 0, built.stderr
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("curl", FAKE_CURL), ("kubectl", FAKE_KUBECTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "kubectl.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KUBECTL_LOG": str(log)}
    result = subprocess.run(["bash", "-c", KEDA_STEP, "-", str(out / "cluster.sh"), action],
                            capture_output=True, text=True, check=False, env=env,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    return result, log.read_text()


def test_keda_installs_only_the_manifest_whose_digest_the_settings_pin(
    tmp_path: Path, run_dkgen: Any
) -> None:
    import hashlib

    from dkgen.autoscaling import KEDA_MANIFEST

    fetched = hashlib.sha256(KEDA_FILE).hexdigest()
    # No digest: diff says apply will refuse; apply fetches, installs nothing,
    # and prints what to review and the digest to pin.
    diff, _ = _keda_step(tmp_path / "none", "diff", None, run_dkgen)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout == "KEDA: not installed -> 2.20.2 (install)\n"
    assert "apply will refuse to install KEDA until keda.manifest_sha256 is set" in diff.stderr
    refused, log = _keda_step(tmp_path / "none", "apply", None, run_dkgen)
    assert refused.returncode == 1
    assert KEDA_MANIFEST in refused.stderr and "Review" in refused.stderr
    assert f'keda: {{manifest_sha256: "{fetched}"}}' in refused.stderr
    assert log == ""
    # A digest that is not the fetched file's: refused, naming the setting and both.
    wrong = "0" * 64
    mismatch, log = _keda_step(tmp_path / "wrong", "apply", wrong, run_dkgen)
    assert mismatch.returncode == 1
    assert "keda.manifest_sha256" in mismatch.stderr
    assert fetched in mismatch.stderr and wrong in mismatch.stderr
    assert log == ""
    # The reviewed file's digest: diff says nothing more, apply installs and waits.
    diff, _ = _keda_step(tmp_path / "right", "diff", fetched, run_dkgen)
    assert diff.returncode == 0 and "keda.manifest_sha256" not in diff.stderr
    installed, log = _keda_step(tmp_path / "right", "apply", fetched, run_dkgen)
    assert installed.returncode == 0, installed.stderr
    lines = log.splitlines()
    assert lines[0].startswith("kubectl apply --server-side -f /")
    assert lines[1].startswith("kubectl wait --namespace keda")
    # The file applied is the file checked, removed afterwards.
    assert not Path(lines[0].split()[-1]).exists()
