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

# A "billion laughs" file: i would expand to 9**9 values; the alias budget
# stops it while expanding d, long before time or memory run short.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{below}' if below else 'lol'] * 9)}]\n"
    for name, below in zip("abcdefghi", ["", *"abcdefgh"], strict=True)
)

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
        "s.yaml:1:1: error: cluster.name: required setting is missing\n"
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
        "s.yaml:3:3: error: cluster.name: duplicate key (first set at line 2)\n"
        "  hint: keep one of the two\n",
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
        "s.yaml: error: no such file\n  hint: check the path; `dkgen init` writes a starter file\n",
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
    # ------------------------------------------------ schema: did-you-mean, ranges, shapes
    (
        "unknown section",
        {"s.yaml": NAME + "worker:\n  count: 3\n"},
        [],
        "s.yaml:3:1: error: worker: unknown setting\n  hint: did you mean `workers`?\n",
    ),
    (
        "unknown nested key",
        {"s.yaml": NAME + "  core_pool:\n    machine: e2-standard-4\n"},
        [],
        "s.yaml:4:5: error: cluster.core_pool.machine: unknown setting\n"
        "  hint: did you mean `cluster.core_pool.machine_type`?\n",
    ),
    (
        "section given a scalar",
        {"s.yaml": NAME + "workers: 3\n"},
        [],
        "s.yaml:3:10: error: workers: expected a mapping, got the number 3\n",
    ),
    (
        "YAML 1.1 boolean on",
        {"s.yaml": NAME + "jupyter:\n  enabled: on\n"},
        [],
        "s.yaml:4:12: error: jupyter.enabled: expected true or false, got the string 'on'\n"
        "  hint: YAML 1.2 reads 'on' as a string, not a boolean; write true or false\n",
    ),
    (
        "quoted boolean",
        {"s.yaml": NAME + "  preemptible: 'false'\n"},
        [],
        "s.yaml:3:16: error: cluster.preemptible: expected true or false, got the string "
        "'false'\n  hint: write false without quotes\n",
    ),
    (
        "no stays a string (YAML 1.2)",
        {"s.yaml": NAME + "  zone: no\n"},
        [],
        "s.yaml:3:9: error: cluster.zone: 'no' is not a Compute Engine zone "
        "(such as us-east1-b or europe-west4-a)\n",
    ),
    (
        "a date stays text",
        {"s.yaml": NAME + "  zone: 2024-01-01\n"},
        [],
        "s.yaml:3:9: error: cluster.zone: '2024-01-01' is not a Compute Engine zone "
        "(such as us-east1-b or europe-west4-a)\n",
    ),
    (
        "number above an exclusive range",
        {"s.yaml": NAME + "workers:\n  mem_factor: 1.5\n"},
        [],
        "s.yaml:4:15: error: workers.mem_factor: 1.5 is out of range (allowed: 0 < value ≤ 1)\n",
    ),
    (
        "number at an exclusive minimum",
        {"s.yaml": NAME + "workers:\n  mem_factor: 0\n"},
        [],
        "s.yaml:4:15: error: workers.mem_factor: 0 is out of range (allowed: 0 < value ≤ 1)\n",
    ),
    (
        "infinite number",
        {"s.yaml": NAME + "workers:\n  cpus_per_worker: .inf\n"},
        [],
        "s.yaml:4:20: error: workers.cpus_per_worker: inf is not a finite number\n",
    ),
    (
        "name too long",
        {"s.yaml": "cluster:\n  name: " + "a" * 41 + "\n"},
        [],
        "s.yaml:2:9: error: cluster.name: is 41 characters long (at most 40 allowed)\n",
    ),
    (
        "empty name is one problem",
        {"s.yaml": "cluster:\n  name: ''\n"},
        [],
        "s.yaml:2:9: error: cluster.name: must not be empty (at least 1 characters)\n",
    ),
    (
        "project shape",
        {"s.yaml": NAME + "  project: My_Project\n"},
        [],
        "s.yaml:3:12: error: cluster.project: 'My_Project' is not a valid project ID (allowed: "
        "6-30 lowercase letters, digits and hyphens; starts with a letter, ends with a letter "
        "or digit)\n",
    ),
    (
        "env value is a number",
        {"s.yaml": NAME + "workers:\n  env:\n    SPILL: 0.6\n"},
        [],
        "s.yaml:5:12: error: workers.env.SPILL: expected a string, got the number 0.6\n"
        '  hint: quote it to make it a string: "0.6"\n',
    ),
    (
        "env key is a number",
        {"s.yaml": NAME + "workers:\n  env:\n    1: x\n"},
        [],
        "s.yaml:5:5: error: workers.env: key 1 is not a string\n  hint: quote the key\n",
    ),
    (
        "bad value in an overlay file names the overlay",
        {"s.yaml": NAME, "o.yaml": "workers:\n  count: lots\n"},
        ["--overlay", "o.yaml"],
        "o.yaml:2:10: error: workers.count: expected an integer, got the string 'lots'\n",
    ),
    # ------------------------------------------------ strict YAML
    (
        "duplicate key in a flow mapping",
        {"s.yaml": NAME + "workers:\n  env: {A: '1', A: '2'}\n"},
        [],
        "s.yaml:4:17: error: workers.env.A: duplicate key (first set at line 4, column 9)\n"
        "  hint: keep one of the two\n",
    ),
    (
        "duplicate section",
        {"s.yaml": NAME + "workers: {}\ncluster: {zone: us-east1-c}\n"},
        [],
        "s.yaml:4:1: error: cluster: duplicate key (first set at line 1)\n"
        "  hint: keep one of the two\n",
    ),
    (
        "%YAML 1.1 directive",
        {"s.yaml": "%YAML 1.1\n---\n" + NAME + "  autoscaling: yes\n"},
        [],
        "s.yaml:1:1: error: dkgen reads YAML 1.2, not 1.1\n  hint: remove the %YAML line\n",
    ),
    (
        "tab after a colon",
        {"s.yaml": "cluster:\n  name:\tdemo\n"},
        [],
        "s.yaml:2:8: error: a tab character; YAML indents with spaces only\n",
    ),
    (
        "unclosed quote",
        {"s.yaml": 'cluster:\n  name: "demo\n'},
        [],
        "s.yaml:3:1: error: invalid YAML: found unexpected end of stream\n"
        "  hint: the quoted string starts at line 2, column 9; close the quote\n",
    ),
    (
        "unclosed flow mapping",
        {"s.yaml": NAME + "workers: {env: {A: '1'}\n"},
        [],
        "s.yaml:4:1: error: invalid YAML: expected ',' or '}', but got '<stream end>'\n"
        "  hint: the mapping { opens at line 3, column 10; close the mapping with }\n",
    ),
    (
        "bad indentation",
        {"s.yaml": "cluster:\n  name: demo\n   zone: us-east1-b\n"},
        [],
        "s.yaml:3:8: error: invalid YAML: mapping values are not allowed here\n"
        "  hint: check the indentation, or quote a value with ': '\n",
    ),
    (
        "list item inside a mapping",
        {"s.yaml": NAME + "  - zone\n"},
        [],
        "s.yaml:3:3: error: invalid YAML: expected <block end>, but found '-'\n"
        "  hint: the mapping starts at line 2, column 3; check the indentation of this line\n",
    ),
    (
        "reserved character",
        {"s.yaml": NAME + "workers:\n  image: @latest\n"},
        [],
        "s.yaml:4:10: error: invalid YAML: found character '@' that cannot start any token\n"
        "  hint: quote the value\n",
    ),
    (
        "undefined alias",
        {"s.yaml": "cluster:\n  name: *demo\n"},
        [],
        "s.yaml:2:9: error: invalid YAML: found undefined alias 'demo'\n"
        "  hint: define the anchor (&name) before the alias, or quote the value\n",
    ),
    (
        "YAML tag",
        {"s.yaml": "cluster:\n  name: !!python/name:os.system demo\n"},
        [],
        "s.yaml:2:9: error: cluster.name: the YAML tag !!python/name:os.system is not "
        "supported\n  hint: remove the tag; settings are plain strings, numbers, booleans, "
        "lists and mappings\n",
    ),
    (
        "alias bomb",
        {"s.yaml": NAME + ALIAS_BOMB},
        [],
        "s.yaml:6:1: error: d: more than 5000 values after expanding YAML aliases\n"
        "  hint: aliases that repeat other aliases multiply (a 'billion laughs' file); "
        "write the values out\n",
    ),
    (
        "duplicate key after an alias bomb (locating it must not expand the aliases)",
        {"s.yaml": NAME + ALIAS_BOMB + "j: {x: 1, x: 2}\n"},
        [],
        "s.yaml:12:11: error: j.x: duplicate key (first set at line 12, column 5)\n"
        "  hint: keep one of the two\n",
    ),
    (
        "nested too deeply",
        {"s.yaml": "a: " + "[" * 40 + "]" * 40 + "\n"},
        [],
        "s.yaml:1:36: error: nested deeper than 32 levels\n",
    ),
    (
        "top level is a single value",
        {"s.yaml": "demo\n"},
        [],
        "s.yaml:1:1: error: the top level is a single value; a settings file is a mapping of "
        "sections\n  hint: start with a section such as `cluster:` or `workers:`\n",
    ),
    (
        "zero-byte file",
        {"s.yaml": ""},
        [],
        "s.yaml:1:1: error: file is empty (no settings)\n"
        "  hint: add at least `cluster: {name: my-dask}`, or drop the file from the command\n",
    ),
    (
        "UTF-16 file",
        {"s.yaml": NAME.encode("utf-16")},
        [],
        "s.yaml:1:1: error: file is UTF-16; save it as UTF-8\n",
    ),
    (
        "a directory",
        {"s.yaml/inside.yaml": NAME},
        [],
        "s.yaml: error: is a directory, not a settings file\n",
    ),
    # ------------------------------------------------ -s
    (
        "-s env value needs quotes",
        {"s.yaml": NAME},
        ["-s", "workers.env.A=1"],
        "-s workers.env.A=1: error: workers.env.A: expected a string, got the number 1\n"
        "  hint: quote it to make it a string: -s 'workers.env.A=\"1\"'\n",
    ),
    (
        "-s YAML 1.1 boolean",
        {"s.yaml": NAME},
        ["-s", "cluster.autoscaling=yes"],
        "-s cluster.autoscaling=yes: error: cluster.autoscaling: expected true or false, got the "
        "string 'yes'\n  hint: YAML 1.2 reads 'yes' as a string, not a boolean; write true or "
        "false\n",
    ),
    (
        "-s empty string where a number belongs",
        {"s.yaml": NAME},
        ["-s", "workers.count="],
        "-s workers.count=: error: workers.count: expected an integer, got the string ''\n",
    ),
    (
        "-s inline YAML that does not parse",
        {"s.yaml": NAME},
        ["-s", "workers.env={A: '1'"],
        "-s workers.env={A: '1': error: the value is not valid YAML: expected ',' or '}', but "
        "got '<stream end>'\n  hint: quote it to pass it as a string, e.g. -s 'key=\"value\"'\n",
    ),
    (
        "-s inline mapping with an unknown key",
        {"s.yaml": NAME},
        ["-s", "cluster={zome: us-east1-c}"],
        "-s cluster={zome: us-east1-c}: error: cluster.zome: unknown setting\n"
        "  hint: did you mean `cluster.zone`?\n",
    ),
    (
        "-s key below a scalar",
        {"s.yaml": NAME},
        ["-s", "cluster.name.first=x"],
        "-s cluster.name.first=x: error: cluster.name.first: `cluster.name` is not a mapping\n",
    ),
    (
        "-s index into a mapping",
        {"s.yaml": NAME},
        ["-s", "workers.env[0]=x"],
        "-s workers.env[0]=x: error: workers.env[0]: `workers.env` is not a list\n",
    ),
    (
        "-s key with a space",
        {"s.yaml": NAME},
        ["-s", "workers count=3"],
        "-s workers count=3: error: `workers count` is not a settings key\n"
        "  hint: write dotted keys: workers.count\n",
    ),
    (
        "-s unknown section",
        {"s.yaml": NAME},
        ["-s", "worker.count=3"],
        "-s worker.count=3: error: worker: unknown setting\n  hint: did you mean `workers`?\n",
    ),
    (
        "-s flat form of an unknown key",
        {"s.yaml": NAME},
        ["-s", "jupyter-prot=443"],
        "-s jupyter-prot=443: error: jupyter.prot: unknown setting\n"
        "  hint: did you mean `jupyter.port`?\n",
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
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "extra", "expected"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
@pytest.mark.parametrize(
    "command", [["build", "-o", "out"], ["validate"], ["config", "--show-origin"]]
)
def test_error_message(
    command: list[str],
    files: dict[str, str | bytes],
    extra: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    """Every command that reads settings reports the same problems the same way."""
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, files)
    result = run_dkgen(command[0], "s.yaml", *extra, *command[1:])
    assert result.stderr == expected
    assert result.stdout == ""
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists(), "a failed build must not create the output"


@pytest.mark.parametrize(
    ("files", "extra", "expected"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_github_annotations(
    files: dict[str, str | bytes],
    extra: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    """--format github turns each text problem into one annotation."""
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, files)
    result = run_dkgen("validate", "--format", "github", "s.yaml", *extra)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "".join(
        github_line(problem) + "\n" for problem in split_problems(expected)
    )


def split_problems(text: str) -> list[tuple[str, str]]:
    """The table's text problems as (first line, hint) pairs."""
    problems: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith("  hint: "):
            problems[-1] = (problems[-1][0], line.removeprefix("  hint: "))
        else:
            problems.append((line, ""))
    return problems


def github_line(problem: tuple[str, str]) -> str:
    """The annotation GitHub expects for one text problem (written independently of
    dkgen.errors, from the workflow-command format)."""
    first, hint = problem
    where, _, message = first.partition(": error: ")
    source, *position = where.split(":")
    message = message + (f"\nhint: {hint}" if hint else "")
    if source.startswith(("-", "dkgen:")) or where.startswith("-s "):
        properties = ""
        message = f"{where}: {message}"
    else:
        properties = f"file={source},"
        if position:
            properties += f"line={position[0]},col={position[1]},"
    data = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error {properties}title=dkgen error::{data}"


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


def test_enum_problem_lists_the_allowed_values() -> None:
    """No setting is an enum today; the message a future one gets is fixed here."""
    from jsonschema import Draft202012Validator

    from dkgen.load import parse_layer
    from dkgen.merge import merge_layers
    from dkgen.validate import schema_problems

    schema = {"type": "object", "properties": {"mode": {"enum": ["spot", "standard"]}}}
    merged = merge_layers([parse_layer("mode: cheap\n", "s.yaml")], [])
    [error] = Draft202012Validator(schema).iter_errors(merged.data)
    [problem] = schema_problems(error, merged)
    assert problem.format() == (
        "s.yaml:1:7: error: mode: the string 'cheap' is not allowed (allowed: spot, standard)"
    )


def test_problems_from_files_and_overrides_all_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Schema problems from every layer in one run: -s first, then by file and line."""
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            "o.yaml": "scheduler:\n  memory: lots\n",
            "s.yaml": NAME + "  zone: moon\njupyter:\n  prot: 1\n",
        },
    )
    result = run_dkgen(
        "validate", "--overlay", "o.yaml", "s.yaml", "-s", "workers.count=-1", "-s", "x=1"
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert [line.split(": error: ")[0] for line in lines if ": error: " in line] == [
        "-s workers.count=-1",
        "-s x=1",
        "o.yaml:2:11",
        "s.yaml:3:9",
        "s.yaml:5:3",
    ]
    assert lines[-1] == "dkgen: 5 problems"
