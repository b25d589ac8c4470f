"""Layering: defaults < overlays < settings files < -s, with typed overrides and origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from dkgen.compiler import compile_settings, merge
from dkgen.errors import InputError, Origin
from dkgen.load import load_inputs, parse_layer, parse_override, sections


def settings_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_defaults_overlay_files_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = settings_file(tmp_path, "a.yaml", "cluster: {name: demo}\nworkers: {count: 3}\n")
    second = settings_file(tmp_path, "b.yaml", "workers: {count: 4, cpus_per_worker: 2}\n")
    layers, overrides = load_inputs([first, second], ["dev"], ["workers.count=9"])
    merged = merge(layers, overrides)
    workers = merged.data["workers"]
    assert workers["count"] == 9  # -s wins over every file
    assert workers["cpus_per_worker"] == 2  # the later file wins over the earlier
    assert workers["memory_per_worker"] == "4Gi"  # the overlay wins over the defaults
    assert workers["mem_factor"] == 0.95  # untouched default survives the merge
    assert merged.origin(("workers", "count")) == Origin("-s workers.count=9")
    assert merged.origin(("workers", "cpus_per_worker")) == Origin("b.yaml", 1, 38)
    assert merged.origin(("workers", "memory_per_worker")) == Origin(
        "dkgen:overlays/dev.yaml", 17, 22
    )
    assert merged.origin(("workers", "mem_factor")).source == "dkgen:bases/default.yaml"


def test_overlays_stack_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = settings_file(tmp_path, "s.yaml", "cluster: {name: demo}\n")
    build = compile_settings([base], ["dev", "prod"])
    # prod is applied after dev, so its pool sizes win; dev's worker sizes stay.
    assert build.settings.workers[0].pool.max_nodes == 50
    assert build.settings.workers[0].memory == "4Gi"


def test_lists_and_scalars_replace_maps_merge(tmp_path: Path) -> None:
    low = parse_layer("workers: {env: {A: '1', B: '2'}}\ncluster: {name: demo}\n", "low.yaml")
    high = parse_layer("workers: {env: {B: '3'}}\n", "high.yaml")
    merged = merge([low, high])
    assert merged.data["workers"]["env"] == {"A": "1", "B": "3"}


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("cluster.autoscaling=False", ("cluster", "autoscaling"), False),
        ("cluster.autoscaling=true", ("cluster", "autoscaling"), True),
        ("workers.count=12", ("workers", "count"), 12),
        ("workers.cpus_per_worker=1.5", ("workers", "cpus_per_worker"), 1.5),
        ('cluster.name="12"', ("cluster", "name"), "12"),
        ("cluster.zone=no", ("cluster", "zone"), "no"),  # YAML 1.2: a string
        ("cluster.project=", ("cluster", "project"), ""),
        ("workers.env.URL=a=b", ("workers", "env", "URL"), "a=b"),
        ('workers.env={A: "1"}', ("workers", "env"), {"A": "1"}),
        ("jupyter-port=443", ("jupyter", "port"), 443),
        ("cluster-num-nodes=5", ("cluster", "num_nodes"), 5),
        ("cluster.project=null", ("cluster", "project"), None),
    ],
)
def test_override_typing(text: str, path: tuple[str, ...], value: object) -> None:
    override = parse_override(text, sections())
    assert override.path == path
    assert override.value == value
    assert type(override.value) is type(value)


def test_override_list_index() -> None:
    layer = parse_layer("cluster: {name: demo}\nworkers: {env: {}}\n", "s.yaml")
    lst = parse_layer("extra: [a, b]\n", "l.yaml")
    merged = merge([layer, lst], [parse_override("extra[1]=c", sections())])
    assert merged.data["extra"] == ["a", "c"]
    with pytest.raises(InputError, match="index 5 is past the end of a list of 2"):
        merge([layer, lst], [parse_override("extra[5]=c", sections())])


def test_original_tool_file_builds_with_its_meaning(in_repo: Path) -> None:
    build = compile_settings([Path("examples/original-tool.yaml")])
    group = build.settings.workers[0]
    assert (group.count, group.threads, group.memory_limit) == (8, 2, 6773800960)
    assert group.pool.machine_type == "n1-standard-8"
    assert group.pool.num_nodes == 3
    assert build.settings.scheduler.dashboard_port == 8787
    assert [w.path for w in build.warnings if w.severity == "warning"] == [
        "gcs.access",  # no project: GCS through the node scope, as the original tool did
        "jupyter.lab_port",
        "scheduler.http_port",
    ]
    # 3 workers of 6800Mi fill an n1-standard-8's memory and leave CPU idle (docs/capacity.md).
    assert [(n.path, n.severity) for n in build.warnings if n.severity != "warning"] == [
        # Its 50 GB disk leaves each of 3 workers per node little scratch to spill to.
        ("cluster.disk_size", "note"),
        # min_nodes and max_nodes do nothing with autoscaling off (issue 24, item 4).
        ("cluster.min_nodes", "note"),
        ("cluster.max_nodes", "note"),
        ("workers.cpus_per_worker", "note"),
    ]


def test_override_mapping_merges_like_a_layer() -> None:
    layer = parse_layer("cluster: {name: demo}\nworkers: {env: {A: '1'}}\n", "s.yaml")
    overrides = [
        parse_override("cluster={zone: europe-west4-a, core_pool: {num_nodes: 2}}", sections()),
        parse_override('workers.env={B: "2"}', sections()),
    ]
    merged = merge([layer], overrides)
    cluster = merged.data["cluster"]
    assert (cluster["name"], cluster["zone"]) == ("demo", "europe-west4-a")
    assert cluster["core_pool"] == {
        "machine_type": "e2-standard-4",
        "num_nodes": 2,
        "disk_size": 50,
    }
    assert merged.data["workers"]["env"] == {"A": "1", "B": "2"}
    first = Origin("-s cluster={zone: europe-west4-a, core_pool: {num_nodes: 2}}")
    assert merged.origin(("cluster", "zone")) == first
    assert merged.origin(("cluster", "core_pool", "num_nodes")) == first
    assert merged.origin(("cluster", "core_pool", "disk_size")).source == "dkgen:bases/default.yaml"
    assert merged.origin(("cluster", "name")) == Origin("s.yaml", 1, 17)
    assert merged.origin(("workers", "env", "A")) == Origin("s.yaml", 2, 20)
    assert merged.origin(("workers", "env", "B")) == Origin('-s workers.env={B: "2"}')


def test_override_scalar_replaces_a_mapping_and_its_origins() -> None:
    layer = parse_layer("cluster: {name: demo}\nextra: {a: 1}\n", "s.yaml")
    merged = merge([layer], [parse_override("extra=[x, y]", sections())])
    assert merged.data["extra"] == ["x", "y"]
    assert merged.origin(("extra", 1)) == Origin("-s extra=[x, y]")
    assert ("extra", "a") not in merged.values


def test_list_element_origins() -> None:
    layer = parse_layer("cluster: {name: demo}\nextra:\n  - a\n  - b\n", "l.yaml")
    merged = merge([layer], [parse_override("extra[1]=c", sections())])
    assert merged.data["extra"] == ["a", "c"]
    assert merged.origin(("extra", 0)) == Origin("l.yaml", 3, 5)
    assert merged.origin(("extra", 1)) == Origin("-s extra[1]=c")


def test_alias_values_are_expanded_with_positions() -> None:
    layer = parse_layer(
        "cluster: {name: demo}\nworkers:\n  env: &env {A: '1'}\nx-copy:\n  env: *env\n", "s.yaml"
    )
    assert layer.data["x-copy"] == {"env": {"A": "1"}}
    assert layer.keys[("x-copy", "env")] == Origin("s.yaml", 5, 3)
