"""An output directory knows the cluster and namespace it manages (issue 25, item 1).

A build or ``check`` that would change them over an existing output refuses
with exit 2, names the old and the new, says how to tear the old down, and
leaves the directory exactly as it was; ``--adopt`` lets it proceed. Outputs
of a dkgen without the record are read for their identity. Fleets too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dkgen.identity import RECORD, Identity, legacy_identity, parse_record
from tests.conftest import read_tree

SETTINGS = "cluster: {name: alpha, project: my-project-1, zone: europe-west4-a}\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(SETTINGS)
    return tmp_path


def built(run_dkgen: Any, *args: str) -> Any:
    result = run_dkgen("build", "s.yaml", *args, "-o", "out")
    return result


@pytest.mark.parametrize(
    ("override", "old", "new"),
    [
        ("cluster.name=beta", "alpha in europe-west4-a", "beta in europe-west4-a"),
        ("cluster.zone=us-east1-b", "alpha in europe-west4-a", "alpha in us-east1-b"),
        ("cluster.project=other-project", "(project my-project-1)", "(project other-project)"),
    ],
)
def test_a_build_for_another_cluster_refuses_and_changes_nothing(
    workdir: Path, run_dkgen: Any, override: str, old: str, new: str
) -> None:
    assert built(run_dkgen).exit_code == 0
    before = read_tree(Path("out"))
    result = built(run_dkgen, "-s", override)
    assert result.exit_code == 2
    assert f"out/{RECORD}: error: cluster: this directory manages the GKE cluster" in (
        result.stderr
    )
    assert old in result.stderr and new in result.stderr
    assert "`out/cluster.sh delete`" in result.stderr
    assert "--adopt" in result.stderr and "-o another-dir/" in result.stderr
    assert read_tree(Path("out")) == before
    check = run_dkgen("check", "s.yaml", "-s", override, "-o", "out", "-q")
    assert check.exit_code == 2 and "this directory manages the GKE cluster" in check.stderr


def test_adopt_proceeds_and_the_impact_says_so(workdir: Path, run_dkgen: Any) -> None:
    assert built(run_dkgen).exit_code == 0
    check = run_dkgen("check", "s.yaml", "-s", "cluster.zone=us-east1-b", "-o", "out", "-q",
                      "--adopt")  # fmt: skip
    assert check.exit_code == 1
    result = built(run_dkgen, "-s", "cluster.zone=us-east1-b", "--adopt")
    assert result.exit_code == 0, result.stderr
    assert "warning: managed cluster alpha in europe-west4-a (project my-project-1) -> " in (
        result.stderr
    )
    record = parse_record(Path("out", RECORD).read_text())
    assert record == Identity("alpha", "us-east1-b", "my-project-1", "dask", "regular")
    # The new identity is now the one protected.
    assert built(run_dkgen).exit_code == 2


def test_a_namespace_change_refuses_and_keeps_the_notebooks(workdir: Path, run_dkgen: Any) -> None:
    assert built(run_dkgen).exit_code == 0
    before = read_tree(Path("out"))
    result = built(run_dkgen, "-s", "namespace=research")
    assert result.exit_code == 2
    message = result.stderr
    assert "error: namespace: this directory manages namespace dask of cluster alpha" in message
    assert "PersistentVolumeClaim jupyter-home" in message
    selector = "app.kubernetes.io/instance=alpha,app.kubernetes.io/managed-by=dkgen"
    assert "`kubectl delete deployments,services," in message
    assert f"--namespace dask -l {selector} --ignore-not-found`" in message
    assert "persistentvolumeclaim" not in message.split("`kubectl delete ")[1].split("`")[0]
    assert "never `kubectl delete namespace dask` unless you mean to delete the notebooks" in (
        message
    )
    assert read_tree(Path("out")) == before
    adopted = built(run_dkgen, "-s", "namespace=research", "--adopt")
    assert adopted.exit_code == 0
    assert "namespace dask -> research (adopted)" in adopted.stderr
    (gone,) = [line for line in adopted.stderr.splitlines() if "Namespace dask:" in line]
    assert "it holds the notebooks' claim jupyter-home" in gone
    assert "copy the notebooks out before you delete it" in gone


def test_the_same_identity_rebuilds(workdir: Path, run_dkgen: Any) -> None:
    assert built(run_dkgen).exit_code == 0
    assert built(run_dkgen, "-s", "workers.count=3").exit_code == 0


def test_the_record_is_deterministic(workdir: Path, run_dkgen: Any) -> None:
    assert built(run_dkgen).exit_code == 0
    text = Path("out", RECORD).read_text()
    body = json.loads(text)
    assert body["cluster"] == {"location": "europe-west4-a", "name": "alpha",
                               "project": "my-project-1"}  # fmt: skip
    assert text == json.dumps(body, indent=2, sort_keys=True) + "\n"


def test_an_output_without_the_record_is_protected(workdir: Path, run_dkgen: Any) -> None:
    """An output of an older dkgen: the identity comes from cluster.sh and kustomization.yaml."""
    assert built(run_dkgen).exit_code == 0
    manifest = json.loads(Path("out/.dkgen-manifest.json").read_text())
    del manifest["files"][RECORD]
    Path("out/.dkgen-manifest.json").write_text(json.dumps(manifest))
    Path("out", RECORD).unlink()
    script = Path("out/cluster.sh").read_text()
    kustomization = Path("out/kustomization.yaml").read_text()
    assert legacy_identity(script, kustomization) == Identity(
        "alpha", "europe-west4-a", "my-project-1", "dask"
    )
    result = built(run_dkgen, "-s", "cluster.zone=us-east1-b")
    assert result.exit_code == 2 and "alpha in europe-west4-a" in result.stderr
    assert built(run_dkgen).exit_code == 0
    assert Path("out", RECORD).is_file()


def test_legacy_identity_of_a_regional_cluster_without_project() -> None:
    script = "cluster_name=beta\ngcloud container clusters create beta \\\n  --region us-east1\n"
    assert legacy_identity(script, "namespace: ns\n") == Identity("beta", "us-east1", None, "ns")
    assert legacy_identity(script, None) is None
    assert legacy_identity("echo hello\n", "namespace: ns\n") is None


def test_a_fleet_refuses_a_moved_cluster_and_writes_no_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text(SETTINGS)
    Path("b.yaml").write_text(SETTINGS.replace("alpha", "beta"))
    assert run_dkgen("build", "a.yaml", "b.yaml", "-o", "out", "--each").exit_code == 0
    before = read_tree(Path("out"))
    Path("b.yaml").write_text(SETTINGS.replace("alpha", "beta").replace("europe-west4-a",
                                                                        "us-east1-b"))  # fmt: skip
    result = run_dkgen("build", "a.yaml", "b.yaml", "-o", "out", "--each", "-s",
                       "workers.count=2")  # fmt: skip
    assert result.exit_code == 2
    assert f"out/beta/{RECORD}: error: cluster:" in result.stderr
    assert read_tree(Path("out")) == before
    adopted = run_dkgen("build", "a.yaml", "b.yaml", "-o", "out", "--each", "--adopt")
    assert adopted.exit_code == 0, adopted.stderr


def test_a_shrinking_claim_is_an_apply_failure(workdir: Path, run_dkgen: Any) -> None:
    assert built(run_dkgen).exit_code == 0
    grow = run_dkgen("check", "s.yaml", "-s", "jupyter.home.size=20Gi", "-o", "out", "-q")
    assert "note: PersistentVolumeClaim jupyter-home: size 10Gi -> 20Gi: grows in place" in (
        grow.stderr
    )
    before = read_tree(Path("out"))
    strict = built(run_dkgen, "-s", "jupyter.home.size=5Gi", "--strict")
    assert strict.exit_code == 2
    assert "error: PersistentVolumeClaim jupyter-home: size 10Gi -> 5Gi: a claim never " in (
        strict.stderr
    )
    assert "kubectl apply will fail on it" in strict.stderr
    assert read_tree(Path("out")) == before
    plain = built(run_dkgen, "-s", "jupyter.home.storage_class=premium-rwo")
    assert plain.exit_code == 0
    assert ("warning: PersistentVolumeClaim jupyter-home: storage class standard-rwo -> "
            "premium-rwo: a claim's class cannot change, so kubectl apply will fail on it"
            ) in plain.stderr  # fmt: skip


def test_release_channel_and_account_changes_show(workdir: Path, run_dkgen: Any) -> None:
    assert built(run_dkgen).exit_code == 0
    result = run_dkgen("check", "s.yaml", "-s", "cluster.release_channel=rapid", "-s",
                       "gcs.service_account=notebooks@my-project-1.iam.gserviceaccount.com",
                       "-o", "out", "-q", "--format", "json")  # fmt: skip
    impacts = {i["message"].split(":")[0] for i in json.loads(result.stdout)}
    assert "release channel regular -> rapid" in impacts
    account = next(i["message"] for i in json.loads(result.stdout)
                   if i["message"].startswith("Google service account"))  # fmt: skip
    assert "gcloud iam service-accounts delete dask-alpha-" in account
