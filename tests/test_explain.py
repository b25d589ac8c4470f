"""`dkgen explain`, `dkgen schema` and the generated settings reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dkgen.compiler import merge
from dkgen.docs import REFERENCE_PATH, render_reference
from dkgen.explain import explain_key
from dkgen.load import parse_layer
from dkgen.resources import default_base_path, load_schema, schema_path
from dkgen.schema_index import schema_at, schema_keys
from dkgen.validate import validate


def defaults() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(default_base_path().read_text("utf-8"))
    return data


@pytest.mark.parametrize("key", schema_keys())
def test_explain_every_key(key: str, run_dkgen: Any) -> None:
    result = run_dkgen("explain", key)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KEY:", key]
    assert lines[1].startswith("TYPE:")
    description = lines[lines.index("DESCRIPTION:") + 1]
    schema = schema_at(tuple(key.split("."))) or {}
    assert description.strip() == schema["description"].split("\n")[0][: len(description.strip())]
    if "properties" in schema:
        fields = lines[lines.index("FIELDS:") + 1 :]
        for name in schema["properties"]:
            assert any(line.split()[0] == name for line in fields if line.startswith("  ")), name
        return
    # A leaf: its default is the one in bases/default.yaml.
    section: Any = defaults()
    for part in key.split("."):
        section = section.get(part) if isinstance(section, dict) else None
    doc = explain_key(key)
    if section is not None:
        assert YAML(typ="safe").load(doc.default) == section
    if doc.example:
        # The example is a settings snippet the schema accepts.
        layer = parse_layer(doc.example, "example.yaml")
        named = parse_layer("cluster: {name: demo}\n", "name.yaml")
        validate(merge([named, layer]))


def test_explain_top_level_lists_sections(run_dkgen: Any) -> None:
    result = run_dkgen("explain")
    assert result.exit_code == 0
    assert "FIELDS:" in result.stdout
    for section in ("namespace", "cluster", "scheduler", "workers", "jupyter"):
        assert f"\n  {section} " in result.stdout


def test_explain_leaf_exactly(run_dkgen: Any) -> None:
    result = run_dkgen("explain", "scheduler.tcp_port")
    assert result.stdout == (
        "KEY:     scheduler.tcp_port\n"
        "TYPE:    integer\n"
        "DEFAULT: 8786\n"
        "ALLOWED: 1 ≤ value ≤ 65535\n"
        "\n"
        "DESCRIPTION:\n"
        "  Port clients and workers connect to (dask scheduler --port).\n"
        "\n"
        "EXAMPLE:\n"
        "  scheduler:\n"
        "    tcp_port: 8786\n"
    )


def test_explain_the_flat_form_that_s_accepts(run_dkgen: Any) -> None:
    """The original tool's `-s jupyter-port=443` form names a key for explain too."""
    flat = run_dkgen("explain", "jupyter-port")
    assert flat.exit_code == 0, flat.stderr
    assert flat.stdout == run_dkgen("explain", "jupyter.port").stdout
    assert run_dkgen("explain", "scheduler-tcp-port").stdout.startswith(
        "KEY:     scheduler.tcp_port\n"
    )


def test_explain_shows_each_sections_shape(run_dkgen: Any) -> None:
    """Issue 17: every section read `<mapping, required>`, though only the cluster's
    name must be written; a section now shows its keys, and `required` marks only
    what has no default."""
    top = run_dkgen("explain").stdout
    for section in load_schema()["properties"]:
        [line] = [ln for ln in top.splitlines() if ln.startswith(f"  {section} ")]
        assert ", required" not in line, line
        properties = (schema_at((section,)) or {}).get("properties", {})
        names = [name for name, child in properties.items() if not child.get("deprecated")]
        if names:
            listed = ", ".join(names) if len(names) <= 7 else f"{', '.join(names[:5])}, …"
            assert f"({listed})>" in line or f"keys: {listed})>" in line, line
    cluster = run_dkgen("explain", "cluster").stdout
    required = [ln.split()[0] for ln in cluster.splitlines() if ", required>" in ln]
    assert required == ["name"]


@pytest.mark.parametrize(
    ("key", "type_line"),
    [
        ("cluster.release_channel", "TYPE:    string or null"),
        ("gcs.access", "TYPE:    string"),
        ("worker_groups.gpu.accelerator", "TYPE: mapping or null"),
        ("worker_groups.gpu.accelerator.count", "TYPE:    integer"),
        ("cluster.network_tags", "TYPE:    list of strings"),
    ],
)
def test_explain_types_instead_of_any(key: str, type_line: str, run_dkgen: Any) -> None:
    result = run_dkgen("explain", key)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1] == type_line


def test_explain_an_accelerators_fields(run_dkgen: Any) -> None:
    result = run_dkgen("explain", "worker_groups.gpu.accelerator")
    fields = result.stdout.split("FIELDS:\n", 1)[1]
    assert [ln.split()[0] for ln in fields.splitlines() if ln.startswith("  ") and "<" in ln] == [
        "type",
        "count",
    ]
    assert "<string, required>" in fields and "<integer, required>" in fields


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "workers.cont",
            "dkgen explain: error: workers.cont: unknown setting\n"
            "  hint: did you mean `workers.count`?\n",
        ),
        (
            "worker.count",
            "dkgen explain: error: worker.count: unknown setting\n"
            "  hint: did you mean `workers.count`?\n",
        ),
        (
            "cluster.bokeh_port",
            "dkgen explain: error: cluster.bokeh_port: unknown setting\n"
            "  hint: did you mean `scheduler.bokeh_port`?\n",
        ),
        (
            "cluster.name.first",
            "dkgen explain: error: cluster.name.first: unknown setting\n"
            "  hint: `cluster.name` is a string, with no settings under it\n",
        ),
    ],
)
def test_explain_unknown_key(key: str, expected: str, run_dkgen: Any) -> None:
    result = run_dkgen("explain", key)
    assert result.exit_code == 2
    assert result.stderr == expected
    assert result.stdout == ""


def test_schema_prints_the_shipped_schema(run_dkgen: Any) -> None:
    result = run_dkgen("schema")
    assert result.exit_code == 0
    assert result.stdout == schema_path().read_text(encoding="utf-8")
    assert json.loads(result.stdout)["$schema"].endswith("/draft/2020-12/schema")


def test_settings_reference_is_current(request: pytest.FixtureRequest) -> None:
    """docs/settings.md is generated; regenerate with `python -m dkgen.docs`
    (or `pytest --update-golden`)."""
    expected = render_reference()
    if request.config.getoption("--update-golden"):
        REFERENCE_PATH.write_text(expected, encoding="utf-8", newline="\n")
    current = REFERENCE_PATH.read_text(encoding="utf-8")
    assert current == expected, "docs/settings.md is stale: run python -m dkgen.docs"
    for key in schema_keys():
        assert f"`{key}`" in current, key


def test_docs_check_mode(tmp_path: Path) -> None:
    from dkgen.docs import main

    target = tmp_path / "settings.md"
    with pytest.raises(SystemExit, match="is stale"):
        main(["--check", str(target)])
    assert main([str(target)]) == 0
    assert main(["--check", str(target)]) == 0


GROUP_KEYS = list(load_schema()["$defs"]["workerGroup"]["properties"])


@pytest.mark.parametrize("key", GROUP_KEYS)
def test_explain_says_what_a_groups_key_inherits(key: str, run_dkgen: Any) -> None:
    """Issue 24, item 5: a group's unset key takes the default group's value,
    and explain says which (by the one rule, dkgen.settings.inherited_from)."""
    from dkgen.settings import inherited_from

    result = run_dkgen("explain", f"worker_groups.x.{key}")
    assert result.exit_code == 0, result.stderr
    default = next((line for line in result.stdout.splitlines() if line.startswith("DEFAULT:")), "")
    source = inherited_from(key)
    if source is None:
        assert "inherits" not in default
    else:
        verb = "merges over" if key == "env" else "inherits"
        assert default.split(None, 1)[1].startswith(f"{verb} {'.'.join(source)}"), default


@pytest.mark.parametrize(
    ("key", "setting", "read"),
    [
        ("max_nodes", "cluster:\n  autoscaling: true\n  max_nodes: 7\n", "pool.max_nodes"),
        ("cpus_per_worker", "workers: {cpus_per_worker: 0.5}\n", "cpus"),
        ("machine_type", "cluster: {machine_type: n2-highmem-8}\n", "pool.machine_type"),
    ],
)
def test_what_explain_says_is_inherited_is(key: str, setting: str, read: str) -> None:
    """The group takes the value explain says it inherits."""
    doc = explain_key(f"worker_groups.x.{key}")
    assert doc.default is not None and doc.default.startswith("inherits")
    layers = [
        parse_layer("cluster: {name: demo}\nworker_groups: {x: {}}\n", "a.yaml"),
        parse_layer(setting, "b.yaml"),
    ]
    group = next(g for g in validate(merge(layers)).settings.workers if g.name == "x")
    value: Any = group
    for part in read.split("."):
        value = getattr(value, part)
    expected: Any = parse_layer(setting, "c.yaml").data
    for part in doc.default.split()[1].split("."):
        expected = expected[part]
    assert value == expected
