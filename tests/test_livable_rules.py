"""The rules of issue 16, as tables of inputs and the exact problems a user sees,
and the shipped combinations that must build without them.

* ``dkgen/rules/versions.py``: one Dask release and Python minor everywhere,
  dask-cuda where ``dask_cuda`` asks for it;
* ``dkgen/rules/jupyter_home.py``: an emptyDir notebook home warns;
* ``dkgen/rules/privileged_ports.py``: a port below 1024 warns;
* every pod of every golden case has service links off and ``USER`` set;
* the strict CRD validation (``tests/crd_validation.py``) refuses what the
  published schemas refuse.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.resources import rapids_dask_path
from tests.conftest import REPO
from tests.crd_validation import validate_custom_resource
from tests.test_golden import CASE_DIRS

NAME = "cluster:\n  name: demo\n  project: p-demo1\n"
GPU = "    machine_type: n1-standard-8\n    accelerator: {type: nvidia-tesla-t4, count: 1}\n"
CUSTOM = "registry.example.com/team/dask:v7"

# (id, settings file, extra arguments, exit code, exact stderr)
CASES: list[tuple[str, str, list[str], int, str]] = [
    (
        "notebook on another Dask release",
        NAME + "jupyter:\n  image: ghcr.io/dask/dask-notebook:2025.9.1-py3.12\n",
        [],
        2,
        "s.yaml:5:10: error: jupyter.image: Jupyter's "
        "ghcr.io/dask/dask-notebook:2025.9.1-py3.12 runs Dask 2025.9.1 (its "
        "tag), but the scheduler's ghcr.io/dask/dask:2026.8.0-py3.12 runs Dask "
        "2026.8.0\n"
        "  other value: scheduler.image at dkgen:bases/default.yaml:71:10\n"
        "  hint: run one Dask release and Python everywhere: set jupyter.image "
        "to an image with Dask 2026.8.0 on Python 3.12 (such as "
        "ghcr.io/dask/dask-notebook:2026.8.0-py3.12), or set scheduler.image to "
        "an image with Dask 2025.9.1 on Python 3.12 (such as "
        "ghcr.io/dask/dask:2025.9.1-py3.12)\n",
    ),
    (
        "workers on another Python minor",
        NAME + "workers:\n  image: ghcr.io/dask/dask:2026.8.0-py3.11\n",
        [],
        2,
        "s.yaml:5:10: error: workers.image: worker group default's "
        "ghcr.io/dask/dask:2026.8.0-py3.11 runs Python 3.11, but the scheduler's "
        "ghcr.io/dask/dask:2026.8.0-py3.12 runs Python 3.12; tasks pickled on "
        "one minor may not load on the other\n"
        "  other value: scheduler.image at dkgen:bases/default.yaml:71:10\n"
        "  hint: run one Dask release and Python everywhere: set workers.image "
        "to an image with Dask 2026.8.0 on Python 3.12 (such as "
        "ghcr.io/dask/dask:2026.8.0-py3.12), or set scheduler.image to an image "
        "with Dask 2026.8.0 on Python 3.11 (such as "
        "ghcr.io/dask/dask:2026.8.0-py3.11)\n",
    ),
    (
        "the issue's gpu group: RAPIDS 25.10 beside a 2026.8.0 scheduler",
        NAME + "worker_groups:\n  gpu:\n" + GPU + "    dask_cuda: true\n"
        "    image: rapidsai/base:25.10-cuda12.9-py3.12\n",
        [],
        2,
        "s.yaml:9:12: error: worker_groups.gpu.image: worker group gpu's "
        "rapidsai/base:25.10-cuda12.9-py3.12 runs Dask 2025.9.1 (RAPIDS 25.10), "
        "but the scheduler's ghcr.io/dask/dask:2026.8.0-py3.12 runs Dask "
        "2026.8.0\n"
        "  other value: scheduler.image at dkgen:bases/default.yaml:71:10\n"
        "  hint: run one Dask release and Python everywhere: set "
        "worker_groups.gpu.image to an image with Dask 2026.8.0 on Python 3.12, "
        "or set scheduler.image to an image with Dask 2025.9.1 on Python 3.12 "
        "(such as ghcr.io/dask/dask:2025.9.1-py3.12)\n",
    ),
    (
        "scheduler on RAPIDS, workers not",
        NAME + "scheduler:\n  image: rapidsai/base:26.02-cuda12-py3.12\n"
        "jupyter:\n  image: rapidsai/notebooks:26.02-cuda12-py3.12\n",
        [],
        2,
        "s.yaml:5:10: error: scheduler.image: worker group default's "
        "ghcr.io/dask/dask:2026.8.0-py3.12 runs Dask 2026.8.0 (its tag), but the "
        "scheduler's rapidsai/base:26.02-cuda12-py3.12 runs Dask 2026.1.1\n"
        "  other value: workers.image at dkgen:bases/default.yaml:92:10\n"
        "  hint: run one Dask release and Python everywhere: set scheduler.image "
        "to an image with Dask 2026.8.0 on Python 3.12, or set workers.image to "
        "an image with Dask 2026.1.1 on Python 3.12 (such as "
        "ghcr.io/dask/dask:2026.1.1-py3.12)\n",
    ),
    (
        "dask_cuda on an official image",
        NAME + "worker_groups:\n  gpu:\n" + GPU + "    dask_cuda: true\n",
        [],
        2,
        "s.yaml:8:16: error: worker_groups.gpu.dask_cuda: worker group gpu has dask_cuda: true, "
        "but ghcr.io/dask/dask:2026.8.0-py3.12 has no dask-cuda, so `dask cuda worker` cannot "
        "start\n"
        "  hint: use an image with dask-cuda (a RAPIDS image such as "
        "rapidsai/base:26.02-cuda12-py3.12), declare dask_cuda: true for this image under images "
        "if it has it, or set worker_groups.gpu.dask_cuda: false\n",
    ),
    (
        "custom image declared on another release",
        NAME + f"workers:\n  image: {CUSTOM}\n"
        f'images:\n  {CUSTOM}: {{dask: 2026.7.0, python: "3.12"}}\n',
        [],
        2,
        f"s.yaml:5:10: error: workers.image: worker group default's {CUSTOM} runs Dask "
        "2026.7.0 (declared in images), but the scheduler's ghcr.io/dask/dask:2026.8.0-py3.12 "
        "runs Dask 2026.8.0\n"
        "  other value: scheduler.image at dkgen:bases/default.yaml:71:10\n"
        "  hint: run one Dask release and Python everywhere: set workers.image to an image with "
        "Dask 2026.8.0 on Python 3.12, or set scheduler.image to an image with Dask 2026.7.0 on "
        "Python 3.12 (such as ghcr.io/dask/dask:2026.7.0-py3.12)\n",
    ),
    (
        "custom image declared on the same release",
        NAME + f"workers:\n  image: {CUSTOM}\n"
        f'images:\n  {CUSTOM}: {{dask: 2026.8.0, python: "3.12"}}\n',
        [],
        0,
        "",
    ),
    (
        "custom image not declared",
        NAME + f"workers:\n  image: {CUSTOM}\n",
        [],
        0,
        f"s.yaml:5:10: warning: workers.image: cannot tell which Dask release {CUSTOM} runs: "
        "dkgen reads only the tags of the official Dask images and of RAPIDS images\n"
        f'  hint: declare it: images: {{"{CUSTOM}": {{dask: <release>, python: "<3.x>", '
        "dask_cuda: <true|false>}}\n",
    ),
    (
        "RAPIDS release missing from the table",
        NAME + "scheduler:\n  image: rapidsai/base:27.02-cuda13-py3.12\n",
        ["--strict"],
        2,
        "s.yaml:5:10: error: scheduler.image: cannot tell which Dask release "
        "rapidsai/base:27.02-cuda13-py3.12 runs: RAPIDS 27.02 is not in dkgen's table "
        "(data/rapids-dask.yaml)\n"
        '  hint: declare it: images: {"rapidsai/base:27.02-cuda13-py3.12": {dask: <release>, '
        'python: "<3.x>", dask_cuda: <true|false>}}\n',
    ),
    (
        "notebook home on an emptyDir",
        NAME + "jupyter:\n  home: {volume: empty_dir}\n",
        [],
        0,
        "s.yaml:5:18: warning: jupyter.home.volume: Jupyter's home is an emptyDir: every "
        "notebook saved there is lost when the pod is replaced (a node upgrade, an image bump, "
        "a dask_config change)\n"
        "  hint: set jupyter.home.volume: persistent (the default) to keep notebooks on a "
        "persistent disk\n",
    ),
    (
        "a patch that makes Jupyter roll while its home is a ReadWriteOnce disk",
        NAME + "patches:\n  - patch:\n      apiVersion: apps/v1\n      kind: Deployment\n"
        "      metadata: {name: jupyter}\n      spec: {strategy: {type: RollingUpdate}}\n",
        [],
        2,
        "s.yaml:5:5: error: patches[0]: makes the Jupyter Deployment's strategy RollingUpdate, "
        "but its home is a ReadWriteOnce disk that only Recreate hands from the old pod to the "
        "new\n"
        "  hint: remove the strategy from the patch, or set jupyter.home.volume: empty_dir\n",
    ),
    (
        "the same patch with a scratch home",
        NAME + "jupyter:\n  home: {volume: empty_dir}\n"
        "patches:\n  - patch:\n      apiVersion: apps/v1\n      kind: Deployment\n"
        "      metadata: {name: jupyter}\n      spec: {strategy: {type: RollingUpdate}}\n",
        [],
        0,
        "s.yaml:5:18: warning: jupyter.home.volume: Jupyter's home is an emptyDir: every "
        "notebook saved there is lost when the pod is replaced (a node upgrade, an image bump, "
        "a dask_config change)\n"
        "  hint: set jupyter.home.volume: persistent (the default) to keep notebooks on a "
        "persistent disk\n",
    ),
    (
        "the original tool's -s jupyter-port=443",
        NAME,
        ["-s", "jupyter-port=443"],
        0,
        "-s jupyter-port=443: warning: jupyter.port: port 443 is privileged (below 1024), but "
        "the container runs as a non-root user without CAP_NET_BIND_SERVICE; it can bind the "
        "port only where the node's runtime lowers net.ipv4.ip_unprivileged_port_start\n"
        "  hint: use a port of 1024 or more (kubectl port-forward maps any local port to it)\n",
    ),
]


@pytest.mark.parametrize(
    ("settings", "extra", "exit_code", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_problem(
    settings: str,
    extra: list[str],
    exit_code: int,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(settings)
    result = run_dkgen("validate", "s.yaml", *extra)
    assert (result.exit_code, result.stderr) == (exit_code, expected)


OVERLAYS = sorted(p.stem for p in (REPO / "overlays").glob("*.yaml"))
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
STACKS = (
    [[]] + [[o] for o in OVERLAYS] + [list(pair) for pair in itertools.combinations(OVERLAYS, 2)]
)


# The original tool's file pins the official images for the scheduler, the
# workers and Jupyter; the gpu overlay's group needs dask-cuda, which only
# RAPIDS images have, and no RAPIDS release pins the official images' Dask.
# That pair is refused, at the group's image, rather than built mismatched.
REFUSED = {("original-tool", "gpu")}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("overlays", STACKS, ids=lambda s: "+".join(s) or "no-overlay")
def test_every_shipped_combination_runs_one_dask(
    example: Path, overlays: list[str], run_dkgen: Any
) -> None:
    """Every example under no overlay, each overlay and each pair reports no version
    problem, not even a warning (other rules may still refuse a pair, such as dev's
    preemptible nodes under a Spot group)."""
    flags = [word for name in overlays for word in ("--overlay", name)]
    result = run_dkgen("validate", example, *flags)
    version_problems = [
        line
        for line in result.stderr.splitlines()
        if ": error: " in line or ": warning: " in line
        if "Dask release" in line or "runs Dask" in line or "dask-cuda" in line
    ]
    if any((example.stem, overlay) in REFUSED for overlay in overlays):
        assert result.exit_code == 2
        assert version_problems == [
            "examples/original-tool.yaml:22:10: error: scheduler.image: worker group "
            "gpu's rapidsai/base:26.02-cuda12-py3.12 runs Dask 2026.1.1 (RAPIDS "
            "26.02), but the scheduler's ghcr.io/dask/dask:2026.8.0-py3.12 runs Dask "
            "2026.8.0"
        ]
    else:
        assert version_problems == []


def test_examples_build_alone_and_under_each_single_overlay(run_dkgen: Any) -> None:
    """The combinations a user starts from build (the refused pair aside)."""
    for example, overlays in itertools.product(EXAMPLES, [[]] + [[o] for o in OVERLAYS]):
        if any((example.stem, overlay) in REFUSED for overlay in overlays):
            continue
        flags = [word for name in overlays for word in ("--overlay", name)]
        result = run_dkgen("validate", example, *flags)
        assert result.exit_code == 0, (example.name, overlays, result.stderr)


def test_rapids_table_has_dated_sources_and_releases() -> None:
    text = rapids_dask_path().read_text(encoding="utf-8")
    assert "Source (consulted" in text and "rapids-dask-dependency" in text
    table = yaml.safe_load(text)["rapids"]
    for release, dask in table.items():
        assert len(release.split(".")) == 2, release
        assert len(str(dask).split(".")) == 3, (release, dask)


# ------------------------------------------------- every pod, every golden case


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda case: case.name)
def test_every_pod_is_free_of_service_links_and_names_its_user(case: Path) -> None:
    """No Service injects ``<NAME>_PORT`` variables (``JUPYTER_PORT`` would be read as
    Jupyter's port), and every container can answer getpass.getuser() without a
    passwd entry for its uid."""
    deployments = [
        yaml.safe_load(path.read_text())
        for path in sorted((case / "expected").glob("deployment-*.yaml"))
    ]
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["enableServiceLinks"] is False, deployment["metadata"]["name"]
        for container in pod["containers"]:
            names = [entry["name"] for entry in container["env"]]
            assert names.count("USER") == 1, deployment["metadata"]["name"]


# ------------------------------------------------------ strict CRD validation

VALID_POD_MONITORING: dict[str, Any] = {
    "apiVersion": "monitoring.googleapis.com/v1",
    "kind": "PodMonitoring",
    "metadata": {"name": "m", "namespace": "dask"},
    "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "endpoints": [{"port": "dashboard", "path": "/metrics", "interval": "30s"}],
    },
}


def test_crd_validation_accepts_a_valid_object() -> None:
    assert validate_custom_resource(VALID_POD_MONITORING) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["spec"]["endpoints"][0].update(pathh="/metrics"), "spec.endpoints.0"),
        (lambda d: d["spec"].update(endpoints="dashboard"), "spec.endpoints"),
        (lambda d: d["metadata"].update(labels={"a": 1}), "metadata.labels.a"),
    ],
    ids=["unknown field", "wrong type", "label not a string"],
)
def test_crd_validation_refuses_what_the_schema_refuses(change: Any, field: str) -> None:
    doc = json.loads(json.dumps(VALID_POD_MONITORING))
    change(doc)
    errors = validate_custom_resource(doc)
    assert errors and errors[0].startswith(f"{field}:"), errors
