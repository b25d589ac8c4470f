"""Every expected error: one line at the exact spot, exit 2, no traceback.

Each row is (input files, extra arguments, the exact stderr). The files are
written into an empty working directory, so positions and names are the
ones a user sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

NAME = "cluster:\n  name: demo\n"

ERROR_CASES: list[tuple[str, dict[str, str | bytes], list[str], str]] = [
    (
        "unknown key with did-you-mean",
        {"s.yaml": NAME + "jupyter:\n  prot: 8888\n"},
        [],
        "s.yaml:4:3: error: jupyter.prot: unknown setting\n  hint: did you mean `jupyter.port`?\n",
    ),
    (
        "key from another section",
        {"s.yaml": NAME + "  bokeh_port: 8787\n"},
        [],
        "s.yaml:3:3: error: cluster.bokeh_port: unknown setting\n"
        "  hint: did you mean `scheduler.bokeh_port`?\n",
    ),
    (
        "YAML 1.1 boolean",
        {"s.yaml": NAME + "  autoscaling: yes\n"},
        [],
        "s.yaml:3:16: error: cluster.autoscaling: expected true or false, got the string 'yes'\n"
        "  hint: YAML 1.2 reads 'yes' as a string, not a boolean; write true or false\n",
    ),
    (
        "number out of range",
        {"s.yaml": NAME + "scheduler:\n  tcp_port: 70000\n"},
        [],
        "s.yaml:4:13: error: scheduler.tcp_port: 70000 is out of range "
        "(allowed: 1 ≤ value ≤ 65535)\n",
    ),
    (
        "memory quantity shape",
        {"s.yaml": NAME + "workers:\n  memory_per_worker: 6800MB\n"},
        [],
        "s.yaml:4:22: error: workers.memory_per_worker: '6800MB' is not a Kubernetes memory "
        "quantity (such as 6800Mi, 4Gi or 8G)\n",
    ),
    (
        "cluster name rules",
        {"s.yaml": "cluster:\n  name: Demo_1\n"},
        [],
        "s.yaml:2:9: error: cluster.name: 'Demo_1' is not a valid GKE cluster name (allowed: "
        "1-40 lowercase letters, digits and hyphens; starts with a letter, ends with a letter "
        "or digit)\n",
    ),
    (
        "zone shape",
        {"s.yaml": NAME + "  zone: us-east1\n"},
        [],
        "s.yaml:3:9: error: cluster.zone: 'us-east1' is not a Compute Engine zone "
        "(such as us-east1-b or europe-west4-a)\n",
    ),
    (
        "quoted number",
        {"s.yaml": NAME + "workers:\n  count: '8'\n"},
        [],
        "s.yaml:4:10: error: workers.count: expected an integer, got the string '8'\n"
        "  hint: write the number without quotes\n",
    ),
    (
        "null section",
        {"s.yaml": NAME + "jupyter:\n"},
        [],
        "s.yaml:3:1: error: jupyter: expected a mapping, got null\n"
        "  hint: an empty section is `{}`; or remove the line\n",
    ),
    (
        "missing cluster name",
        {"s.yaml": "workers:\n  count: 2\n"},
        [],
        "s.yaml: error: cluster.name: required setting is missing\n"
        "  hint: name your cluster: add `cluster: {name: my-dask}` to your settings file\n",
    ),
    (
        "min above max",
        {"s.yaml": NAME + "  autoscaling: true\n  min_nodes: 5\n  max_nodes: 4\n"},
        [],
        "s.yaml:4:14: error: cluster.min_nodes: min_nodes (5) is larger than max_nodes (4)\n"
        "  hint: lower cluster.min_nodes or raise cluster.max_nodes\n",
    ),
    (
        "colliding ports",
        {"s.yaml": NAME + "scheduler:\n  bokeh_port: 8786\n"},
        [],
        "s.yaml:4:15: error: scheduler.bokeh_port: the dashboard and the scheduler both use "
        "port 8786\n  hint: give scheduler.bokeh_port and scheduler.tcp_port different values\n",
    ),
    (
        "sub-millicore CPU",
        {"s.yaml": NAME + "workers:\n  cpus_per_worker: 1.0005\n"},
        [],
        "s.yaml:4:20: error: workers.cpus_per_worker: 1.0005 CPUs is finer than Kubernetes' "
        "millicore (0.001)\n  hint: round to 1.0\n",
    ),
    (
        "unpinned image",
        {"s.yaml": NAME + "workers:\n  image: ghcr.io/dask/dask:latest\n"},
        [],
        "s.yaml:4:10: error: workers.image: image 'ghcr.io/dask/dask:latest' is not pinned to a "
        "version\n  hint: add a version tag such as :2026.8.0-py3.12 (or a @sha256: digest), so "
        "every rebuild deploys the same software\n",
    ),
    (
        "bad env name",
        {"s.yaml": NAME + "workers:\n  env:\n    1BAD: x\n"},
        [],
        "s.yaml:5:5: error: workers.env.1BAD: '1BAD' is not an environment variable name "
        "(allowed: letters, digits and underscores, not starting with a digit)\n",
    ),
    (
        "duplicate key",
        {"s.yaml": NAME + "  name: again\n"},
        [],
        "s.yaml:3:3: error: duplicate key `name`\n"
        "  hint: the mapping starts at line 2; keep one of the two\n",
    ),
    (
        "tab indentation",
        {"s.yaml": "cluster:\n\tname: demo\n"},
        [],
        "s.yaml:2:1: error: a tab character; YAML indents with spaces only\n",
    ),
    (
        "empty file",
        {"s.yaml": "# nothing here\n"},
        [],
        "s.yaml:1:1: error: file is empty (no settings)\n"
        "  hint: add at least `cluster: {name: my-dask}`, or drop the file from the command\n",
    ),
    (
        "top level is a list",
        {"s.yaml": "- cluster\n"},
        [],
        "s.yaml:1:1: error: the top level is a list; a settings file is a mapping of sections\n"
        "  hint: start with a section such as `cluster:` or `workers:`\n",
    ),
    (
        "not UTF-8",
        {"s.yaml": b"cluster:\n  name: d\xe9mo\n"},
        [],
        "s.yaml:2:10: error: byte 0xe9 is not valid UTF-8\n  hint: save the file as UTF-8\n",
    ),
    (
        "missing file",
        {},
        [],
        "s.yaml: error: no such file\n",
    ),
    (
        "-s typed value rejected with its origin",
        {"s.yaml": NAME},
        ["-s", "workers.count=many"],
        "-s workers.count=many: error: workers.count: expected an integer, got the string 'many'\n",
    ),
    (
        "-s unknown key",
        {"s.yaml": NAME},
        ["-s", "workers.cont=3"],
        "-s workers.cont=3: error: workers.cont: unknown setting\n"
        "  hint: did you mean `workers.count`?\n",
    ),
    (
        "-s without =",
        {"s.yaml": NAME},
        ["-s", "workers.count"],
        "-s workers.count: error: expected KEY=VALUE\n  hint: for example -s workers.count=12\n",
    ),
    (
        "unknown overlay",
        {"s.yaml": NAME},
        ["--overlay", "staging"],
        "--overlay staging: error: no shipped overlay named 'staging'\n"
        "  hint: shipped overlays: dev, gpu, prod, spot; or give a path to your own file\n",
    ),
    (
        "zone and region both set",
        {"s.yaml": NAME + "  region: us-east1\n"},
        [],
        "s.yaml:3:11: error: cluster.region: a cluster is zonal or regional, but both "
        "cluster.zone and cluster.region are set\n"
        "  hint: for a regional cluster also set `zone: null`; for a zonal one `region: null`\n",
    ),
    (
        "spot and preemptible in a worker group",
        {"s.yaml": NAME + "worker_groups:\n  big:\n    spot: true\n    preemptible: true\n"},
        [],
        "s.yaml:5:11: error: worker_groups.big.spot: spot and preemptible are both true; a pool "
        "is one or the other\n"
        "  hint: keep spot (preemptible's successor) and set preemptible to false\n",
    ),
    (
        "inherited min above a group's max points at the default",
        {
            "s.yaml": NAME + "  autoscaling: true\n  min_nodes: 3\nworker_groups:\n  big:\n"
            "    max_nodes: 2\n"
        },
        [],
        "s.yaml:4:14: error: cluster.min_nodes: min_nodes (3) is larger than max_nodes (2)\n"
        "  hint: lower cluster.min_nodes or raise worker_groups.big.max_nodes\n",
    ),
    (
        "dask_cuda without GPUs",
        {"s.yaml": NAME + "worker_groups:\n  gpu:\n    dask_cuda: true\n"},
        [],
        "s.yaml:5:16: error: worker_groups.gpu.dask_cuda: dask_cuda needs GPUs, but the group "
        "has no accelerator\n  hint: add worker_groups.gpu.accelerator: "
        "{type: nvidia-tesla-t4, count: 1}\n",
    ),
    (
        "unknown GPU type inside an optional accelerator",
        {
            "s.yaml": NAME + "worker_groups:\n  gpu:\n    accelerator: {type: nvidia-gtx-1080, "
            "count: 1}\n"
        },
        [],
        "s.yaml:5:25: error: worker_groups.gpu.accelerator.type: the string 'nvidia-gtx-1080' is "
        "not allowed (allowed: nvidia-tesla-t4, nvidia-l4, nvidia-tesla-v100, nvidia-tesla-p100, "
        "nvidia-tesla-p4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb, "
        "nvidia-h100-mega-80gb, nvidia-h200-141gb, nvidia-b200, nvidia-rtx-pro-6000)\n",
    ),
    (
        "the default group is not a named group",
        {"s.yaml": NAME + "worker_groups:\n  default:\n    count: 2\n"},
        [],
        "s.yaml:4:3: error: worker_groups.default: the default group is configured by workers.* "
        "and cluster.*\n  hint: move these settings to workers: and cluster:, or give the group "
        "another name\n",
    ),
    (
        "workload identity without a project",
        {"s.yaml": NAME + "gcs:\n  access: workload_identity\n"},
        [],
        "s.yaml:4:11: error: gcs.access: Workload Identity needs the project ID (its pool is "
        "PROJECT.svc.id.goog)\n  hint: set cluster.project\n",
    ),
    (
        "bucket roles need workload identity",
        {"s.yaml": NAME + "gcs:\n  access: node_scopes\n  buckets: [{name: data, access: read}]\n"},
        [],
        "s.yaml:5:12: error: gcs.buckets: bucket roles are granted to the Workload Identity "
        "service account, but gcs.access resolves to node_scopes\n  hint: set cluster.project "
        "(and gcs.access: auto or workload_identity), or grant the node service account "
        "access yourself\n",
    ),
]


def write_inputs(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "extra", "expected"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_error_message(
    files: dict[str, str | bytes],
    extra: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, files)
    result = run_dkgen("build", "s.yaml", *extra, "-o", "out")
    assert result.stderr == expected
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists(), "a failed build must not create the output"


def test_all_problems_reported_at_once_sorted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            "b.yaml": "workers:\n  count: -1\n",
            "a.yaml": "cluster:\n  name: demo\n  zone: nowhere\n",
        },
    )
    result = run_dkgen("build", "b.yaml", "a.yaml", "-o", "out")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("a.yaml:3:9: error: cluster.zone:")
    assert lines[1].startswith("b.yaml:2:10: error: workers.count:")
    assert lines[-1] == "dkgen: 2 problems"


def test_deprecated_keys_warn_and_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path, {"s.yaml": NAME + "  project: demo-project\njupyter:\n  lab_port: 8889\n"}
    )
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 0
    assert result.stderr == (
        "s.yaml:5:3: warning: jupyter.lab_port: is accepted for compatibility but has no "
        "effect\n  hint: replaced by jupyter.port (JupyterLab is served at /lab on it); "
        "remove the line\n"
    )


def test_unexpected_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only DkgenError maps to exit 2; a bug must surface with its traceback."""
    from click.testing import CliRunner

    from dkgen import cli

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("dkgen.compiler.compile_settings", explode)
    result = CliRunner().invoke(cli.cli, ["validate", "x.yaml"])
    assert isinstance(result.exception, RuntimeError)
