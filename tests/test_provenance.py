"""`dkgen config --show-origin`: every value says where it came from, for every layer kind.

Expected positions are found by searching the shipped files' text here, not
taken from dkgen, so a wrong line or column in the merge shows up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dkgen.resources import default_base_path, overlays_dir


def position(path: Path, line_text: str, value: str) -> tuple[int, int]:
    """1-based line and column of ``value`` on the line that starts with ``line_text``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(line_text):
            return number, line.index(value, len(line_text)) + 1
    raise AssertionError(f"{line_text!r} not in {path}")


@pytest.fixture
def layered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One value from each layer kind: defaults, shipped overlay, overlay file,
    settings file, -s override."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team.yaml").write_text("workers:\n  cpus_per_worker: 2\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_text(
        "cluster:\n  name: demo\nworkers:\n  memory_per_worker: 8Gi\n  env:\n    A: 'x=1'\n",
        encoding="utf-8",
    )
    return [
        "s.yaml",
        "--overlay",
        "dev",
        "--overlay",
        "team.yaml",
        "-s",
        "workers.count=5",
        "-s",
        "workers.env.B=",
    ]


def expected_origins() -> dict[str, dict[str, Any]]:
    default_line, default_col = position(default_base_path(), "  mem_factor:", "0.95")
    dev_line, dev_col = position(overlays_dir() / "dev.yaml", "  machine_type:", "e2-standard-4")
    return {
        "workers.mem_factor": {
            "source": "dkgen:bases/default.yaml",
            "line": default_line,
            "column": default_col,
        },
        "cluster.machine_type": {
            "source": "dkgen:overlays/dev.yaml",
            "line": dev_line,
            "column": dev_col,
        },
        "workers.cpus_per_worker": {"source": "team.yaml", "line": 2, "column": 20},
        "workers.memory_per_worker": {"source": "s.yaml", "line": 4, "column": 22},
        "workers.env.A": {"source": "s.yaml", "line": 6, "column": 8},
        "workers.count": {"source": "-s workers.count=5", "line": None, "column": None},
        "workers.env.B": {"source": "-s workers.env.B=", "line": None, "column": None},
    }


def test_json_origins_for_every_layer_kind(layered: list[str], run_dkgen: Any) -> None:
    result = run_dkgen("config", *layered, "--show-origin", "--format", "json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    for key, origin in expected_origins().items():
        assert shown["origins"][key] == origin, key
    assert shown["layers"] == [
        "dkgen:bases/default.yaml",
        "dkgen:overlays/dev.yaml",
        "team.yaml",
        "s.yaml",
        "-s workers.count=5",
        "-s workers.env.B=",
    ]
    workers = shown["settings"]["workers"]
    assert (workers["count"], workers["cpus_per_worker"]) == (5, 2)
    assert workers["env"] == {"A": "x=1", "B": ""}
    # Every leaf has an origin, and nothing else does.
    assert set(shown["origins"]) == set(leaf_keys(shown["settings"]))


def leaf_keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys += leaf_keys(value, dotted + ".")
        else:
            keys.append(dotted)
    return keys


def test_yaml_origins_are_comments_on_each_leaf(layered: list[str], run_dkgen: Any) -> None:
    result = run_dkgen("config", *layered, "--show-origin")
    assert result.exit_code == 0, result.stderr
    by_key: dict[str, str] = {}
    section = ""
    for line in result.stdout.splitlines()[1:]:
        text, _, comment = line.partition("  # ")
        indent = len(text) - len(text.lstrip())
        key = text.strip().split(":")[0]
        if indent == 0:
            section = key
        if comment:
            by_key[f"{section}.{key}" if indent == 2 else key] = comment.strip()
    for key, origin in expected_origins().items():
        if key.count(".") != 1:
            continue
        where = origin["source"]
        if origin["line"]:
            where += f":{origin['line']}:{origin['column']}"
        assert by_key[key] == where, key
    assert result.stdout.splitlines()[0] == (
        "# Layers, lowest precedence first: dkgen:bases/default.yaml, dkgen:overlays/dev.yaml, "
        "team.yaml, s.yaml, -s workers.count=5, -s workers.env.B="
    )


def test_config_output_is_a_settings_file_that_builds_the_same(
    layered: list[str], run_dkgen: Any, tmp_path: Path
) -> None:
    """The printed YAML (with or without origins) holds every value: fed back alone,
    it merges to the same settings."""
    first = run_dkgen("config", *layered, "--format", "json")
    for flags in ([], ["--show-origin"]):
        printed = run_dkgen("config", *layered, *flags)
        (tmp_path / "merged.yaml").write_text(printed.stdout, encoding="utf-8")
        again = run_dkgen("config", "merged.yaml", "--format", "json")
        assert again.exit_code == 0, again.stderr
        assert json.loads(again.stdout) == json.loads(first.stdout)


def test_errors_point_where_config_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """A semantic error between a value from the defaults or a shipped overlay
    and a -s names the same file:line:column that --show-origin shows for the
    first, on its other-value line; the -s, the one to change, comes first
    (issue 24, item 2)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("cluster:\n  name: demo\n", encoding="utf-8")
    origins = json.loads(
        run_dkgen(
            "config", "s.yaml", "--overlay", "prod", "--show-origin", "--format", "json"
        ).stdout
    )["origins"]

    def shown(key: str) -> str:
        origin = origins[key]
        return f"{origin['source']}:{origin['line']}:{origin['column']}"

    ports = run_dkgen("validate", "s.yaml", "-s", "scheduler.tcp_port=8787")
    assert ports.stderr.startswith("-s scheduler.tcp_port=8787: error: scheduler.tcp_port")
    assert f"other value: scheduler.bokeh_port at {shown('scheduler.bokeh_port')}\n" in (
        ports.stderr
    )
    nodes = run_dkgen("validate", "s.yaml", "--overlay", "prod", "-s", "cluster.max_nodes=2")
    assert nodes.stderr.startswith("-s cluster.max_nodes=2: error: cluster.max_nodes")
    assert f"other value: cluster.min_nodes at {shown('cluster.min_nodes')}\n" in nodes.stderr
    assert shown("cluster.min_nodes").startswith("dkgen:overlays/prod.yaml:")


def test_config_without_origins_is_plain_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_dkgen("config", "-s", "cluster.name=demo", "-s", "cluster.zone=no")
    assert result.exit_code == 2  # `no` is a string in YAML 1.2, and not a zone
    result = run_dkgen("config", "-s", "cluster.name=demo", "--format", "json")
    assert result.exit_code == 0
    settings = json.loads(result.stdout)
    assert list(settings["cluster"])[:2] == ["name", "project"]  # schema order
    assert settings["cluster"]["name"] == "demo"
    yaml_text = run_dkgen("config", "-s", "cluster.name=demo").stdout
    assert "#" not in yaml_text
    assert yaml_text.startswith("namespace: dask\ncluster:\n  name: demo\n")


def test_config_reports_deprecations_and_github_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        # A project, so the deprecation is the only warning.
        "cluster:\n  name: demo\n  project: demo-project\njupyter:\n  lab_port: 8889\n",
        encoding="utf-8",
    )
    result = run_dkgen("config", "s.yaml")
    assert result.exit_code == 0
    assert result.stderr.startswith("s.yaml:5:3: warning: jupyter.lab_port:")
    assert "  lab_port: 8889\n" in result.stdout
    warned = run_dkgen("config", "--error-format", "github", "s.yaml")
    assert warned.stderr.startswith("::warning file=s.yaml,line=5,col=3,title=dkgen warning::")
    bad = run_dkgen("config", "--error-format", "github", "s.yaml", "-s", "workers.count=x")
    assert bad.exit_code == 2
    assert bad.stdout == ""
    assert bad.stderr == (
        "::error title=dkgen error::-s workers.count=x: workers.count: expected an integer, "
        "got the string 'x'\n"
    )


def test_config_of_a_file_whose_name_holds_a_newline_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """config runs the layer validation build does (compiler.validate_layers),
    so input names reach its header and origin comments escaped: the file it
    writes is one that validate accepts."""
    monkeypatch.chdir(tmp_path)
    Path("s\n.yaml").write_text("cluster: {name: demo}\n", encoding="utf-8")
    shown = run_dkgen("config", "--show-origin", "s\n.yaml")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith(
        "# Layers, lowest precedence first: dkgen:bases/default.yaml, s\\n.yaml\n"
    )
    assert "# s\\n.yaml:1:17\n" in shown.stdout
    Path("config.yaml").write_text(shown.stdout, encoding="utf-8")
    validated = run_dkgen("validate", "config.yaml")
    assert validated.exit_code == 0, validated.stderr
    assert validated.stdout == "dkgen: demo: settings are valid\n"
