"""The Kubernetes schemas dkgen ships (data/kubernetes-schema.json) and the check that reads them.

* The shipped file is exactly what tools/generate_kube_schema.py makes from
  the installed kubernetes-validate (Kubernetes 1.30's strict schemas) and
  tests/crd_schemas/: a hand edit or a stale file fails here.
* A build without patches never reads it, nor imports jsonschema (start-up
  time: the subset and jsonschema load only when a patch is checked).
* It agrees with kubernetes-validate itself on dkgen's own objects (valid)
  and on objects broken the ways a patch can break them (refused).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed
import pytest
import yaml

from dkgen.kube_schema import schema_problems
from dkgen.resources import kubernetes_schema_path
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import generate_kube_schema  # the generator is a script in tools/


def test_the_shipped_subset_is_what_the_generator_makes() -> None:
    shipped = kubernetes_schema_path().read_text(encoding="utf-8")
    assert shipped == generate_kube_schema.render(), (
        "data/kubernetes-schema.json is stale: "
        "python tools/generate_kube_schema.py > data/kubernetes-schema.json"
    )


def test_the_subset_is_compact() -> None:
    assert kubernetes_schema_path().stat().st_size < 100_000


PLAIN_BUILD = """
import sys
from dkgen.cli import main
try:
    main(["build", "s.yaml", "-o", "out"])
except SystemExit:
    pass
loaded = [m for m in ("dkgen.kube_schema", "jsonschema") if m in sys.modules]
print("loaded:" + ",".join(loaded), file=sys.stderr)
"""


def test_a_build_without_patches_loads_neither_the_schemas_nor_jsonschema(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("cluster: {name: demo}\n")
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_BUILD],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.splitlines()[-1] == "loaded:", result.stderr


def _own_objects(tmp_path: Path, run_dkgen: Any) -> list[dict[str, Any]]:
    (tmp_path / "s.yaml").write_text(
        "cluster: {name: demo, project: demo-project, autoscaling: true}\n"
        "dask_config: {distributed: {scheduler: {work-stealing: false}}}\n"
        "worker_groups: {gpu: {resources: {GPU: 1}, adaptive: {min: 0, max: 2}}}\n"
    )
    result = run_dkgen("build", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    return [
        yaml.safe_load(path.read_text())
        for path in sorted((tmp_path / "out").glob("*.yaml"))
        if path.name != "kustomization.yaml"
    ]


def _kubernetes_validate(obj: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(obj, generate_kube_schema.KUBERNETES_MINOR, strict=True)
    except kubernetes_validate.ValidationError:
        return False
    return True


BREAKS = [
    ("spec", "a string"),
    ("metadata", ["a", "list"]),
    ("spec.template.spec.containers", "web"),
    ("spec.template.spec.containers.0.name", ["scheduler"]),
    ("spec.template.spec.containers.0.unknownField", 1),
    ("spec.replicas", "three"),
    ("spec.template.metadata.labels", {"a": 1}),
]


def _set(obj: dict[str, Any], dotted: str, value: Any) -> bool:
    node: Any = obj
    parts = dotted.split(".")
    for part in parts[:-1]:
        key: Any = int(part) if part.isdigit() else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    node[parts[-1]] = value
    return True


def test_it_agrees_with_kubernetes_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    objects = _own_objects(tmp_path, run_dkgen)
    assert objects
    builtin = [o for o in objects if o["apiVersion"] in {"v1", "apps/v1", "policy/v1"}]
    for obj in objects:
        assert schema_problems(obj) == [], obj["kind"]
    for obj in builtin:
        assert _kubernetes_validate(obj), obj["kind"]
        for dotted, value in BREAKS:
            broken = copy.deepcopy(obj)
            if _set(broken, dotted, value):
                ours = bool(schema_problems(broken))
                assert ours == (not _kubernetes_validate(broken)), (obj["kind"], dotted)
