"""`dkgen init`: the starter file builds as is, round-trips, and never overwrites."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dkgen.explain import default_settings
from dkgen.resources import load_schema, shipped_overlays
from dkgen.schema_index import schema_at, schema_keys
from dkgen.starter import COMMON_SETTINGS, STARTER_VALUES, starter_settings
from tests.conftest import REPO


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_writes_a_file_that_builds(workdir: Path, run_dkgen: Any) -> None:
    result = run_dkgen("init")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "dkgen: wrote settings.yaml; build it with: dkgen build settings.yaml -o out/\n"
    )
    assert (workdir / "settings.yaml").read_text(encoding="utf-8") == starter_settings()
    built = run_dkgen("build", "settings.yaml", "-o", "out", "--strict")
    assert built.exit_code == 0, built.stderr
    # Untouched, it builds without a warning or a note (issue 17: it used to warn
    # that cluster.project is not set, and so failed --strict).
    assert built.stderr == ""
    assert (workdir / "out" / "kustomization.yaml").is_file()


def test_init_then_prod_overlay_builds_strict_with_prods_values(
    workdir: Path, run_dkgen: Any
) -> None:
    """The README's first steps with an overlay: `dkgen init && dkgen build
    settings.yaml --overlay prod --strict -o out` builds with prod's autoscaling."""
    assert run_dkgen("init").exit_code == 0
    built = run_dkgen("build", "settings.yaml", "--overlay", "prod", "--strict", "-o", "out")
    assert built.exit_code == 0, built.stderr
    assert built.stderr == ""
    script = (workdir / "out" / "cluster.sh").read_text(encoding="utf-8")
    prod = YAML(typ="safe").load((REPO / "overlays" / "prod.yaml").read_text(encoding="utf-8"))
    assert prod["cluster"]["autoscaling"] is True
    assert "--enable-autoscaling" in script
    assert f"--min-nodes {prod['cluster']['min_nodes']} " in script
    assert f"--max-nodes {prod['cluster']['max_nodes']} " in script


@pytest.mark.parametrize("overlay", shipped_overlays())
def test_starter_cancels_no_overlay(workdir: Path, run_dkgen: Any, overlay: str) -> None:
    """Over any shipped overlay, the starter gives exactly what the overlay and the
    starter's two decisions give: it sets nothing an overlay sets."""
    run_dkgen("init")
    from_starter = run_dkgen("config", "settings.yaml", "--overlay", overlay, "--format", "json")
    assert from_starter.exit_code == 0, from_starter.stderr
    decided = [arg for key in STARTER_VALUES for arg in ("-s", f"{key}={_live(key)}")]
    from_overlay = run_dkgen("config", "--overlay", overlay, *decided, "--format", "json")
    assert json.loads(from_starter.stdout) == json.loads(from_overlay.stdout)


def _live(key: str) -> str:
    """The value the starter writes for ``key``, as its line shows it."""
    name = key.rsplit(".", 1)[-1]
    [line] = [ln for ln in starter_settings().splitlines() if ln.startswith(f"  {name}: ")]
    return line.split(": ", 1)[1]


_COMMENTED = re.compile(r"^(?P<indent> *)# (?P<setting>[a-z_]+: .*|[a-z_]+:)$")


def _uncommented(text: str) -> str:
    """``text`` with every commented-out setting (and section line) made live,
    as a user uncommenting them would."""
    return "\n".join(
        f"{found['indent']}{found['setting']}" if (found := _COMMENTED.match(line)) else line
        for line in text.splitlines()
    )


def test_commented_settings_show_the_defaults(workdir: Path, run_dkgen: Any) -> None:
    """Uncommenting every commented-out line gives a file that builds and whose
    values are the defaults (the project, which has none, its schema example)."""
    text = _uncommented(starter_settings())
    assert text != starter_settings().rstrip("\n")
    data = YAML(typ="safe").load(text)
    for key in COMMON_SETTINGS:
        section, name = key.split(".")
        expected = default_settings()[section][name]
        if expected is None:
            expected = (schema_at((section, name)) or {})["examples"][0]
        assert data[section][name] == expected, key
    (workdir / "all.yaml").write_text(text, encoding="utf-8")
    built = run_dkgen("build", "all.yaml", "-o", "out")
    assert built.exit_code == 0, built.stderr


def test_starter_changes_no_default_but_its_decisions(workdir: Path, run_dkgen: Any) -> None:
    run_dkgen("init")
    from_starter = run_dkgen("config", "settings.yaml", "--format", "json")
    decided = [arg for key in STARTER_VALUES for arg in ("-s", f"{key}={_live(key)}")]
    from_defaults = run_dkgen("config", *decided, "--format", "json")
    assert json.loads(from_starter.stdout) == json.loads(from_defaults.stdout)


def test_starter_round_trips_through_a_comment_preserving_yaml_editor() -> None:
    """Loaded and saved by ruamel.yaml (as a tool editing it would), every byte and
    comment survives."""
    text = starter_settings()
    out = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.dump(yaml.load(text), out)
    assert out.getvalue() == text


def test_starter_content() -> None:
    text = starter_settings()
    lines = text.splitlines()
    assert lines[0] == f"# yaml-language-server: $schema={load_schema()['$id']}"
    data = YAML(typ="safe").load(text)
    # Live: only the starter's decisions.
    assert {f"{section}.{name}" for section in data for name in data[section]} == set(
        STARTER_VALUES
    )
    for key in COMMON_SETTINGS:
        name = key.split(".")[1]
        [index] = [i for i, ln in enumerate(lines) if ln.startswith(f"  # {name}: ")]
        # Each shown setting has its comment on the line above.
        assert lines[index - 1].startswith("  # ") and not _COMMENTED.match(lines[index - 1])
    # Every other (non-deprecated) setting is at least mentioned by name.
    for key in schema_keys():
        if (schema_at(tuple(key.split("."))) or {}).get("deprecated"):
            continue
        assert key.rsplit(".", 1)[-1] in text, key


def test_a_restated_default_that_cancels_an_overlay_gets_a_note(
    workdir: Path, run_dkgen: Any
) -> None:
    """The old starter wrote the defaults out; over --overlay prod each of them
    silently cancelled prod's value. Now each says so, and only those."""
    (workdir / "settings.yaml").write_text(
        "cluster:\n"
        "  name: my-dask\n"
        "  autoscaling: false\n"  # the default, over prod's true: noted
        "  max_nodes: 40\n"  # neither the default nor prod's: a decision
        "  num_nodes: 3\n"  # the default, and prod does not set it
        "gcs: {access: node_scopes}\n",
        encoding="utf-8",
    )
    built = run_dkgen("build", "settings.yaml", "--overlay", "prod", "--strict", "-o", "out")
    assert built.exit_code == 0, built.stderr
    prod = YAML(typ="rt").load((REPO / "overlays" / "prod.yaml").read_text(encoding="utf-8"))
    line, column = prod["cluster"].lc.value("autoscaling")
    assert built.stderr == (
        "settings.yaml:3:16: note: cluster.autoscaling: restates the default (false) and "
        f"so cancels true set by dkgen:overlays/prod.yaml:{line + 1}:{column + 1}\n"
        "  hint: remove the line to take the overlay's value; keep it to override the "
        "overlay on purpose\n" + IDLE_MAX_NODES
    )
    # Without the overlay there is nothing to cancel (max_nodes still does nothing).
    alone = run_dkgen("build", "settings.yaml", "-o", "alone")
    assert alone.exit_code == 0 and alone.stderr == IDLE_MAX_NODES


# A setting that does nothing is noted at its line (issue 24, item 4).
IDLE_MAX_NODES = (
    "settings.yaml:4:14: note: cluster.max_nodes: max_nodes does nothing while autoscaling "
    "is off: the pool keeps num_nodes (3) nodes\n"
    "  other value: cluster.autoscaling at settings.yaml:3:16\n"
    "  hint: set cluster.autoscaling: true to scale between min_nodes and max_nodes, or "
    "remove the line\n"
)


def test_init_refuses_to_overwrite(workdir: Path, run_dkgen: Any) -> None:
    (workdir / "settings.yaml").write_text("mine\n", encoding="utf-8")
    result = run_dkgen("init")
    assert result.exit_code == 2
    assert result.stderr == (
        "settings.yaml: error: already exists; dkgen init never overwrites a file\n"
        "  hint: give another path, or move the file away first\n"
    )
    assert (workdir / "settings.yaml").read_text(encoding="utf-8") == "mine\n"


def test_init_into_a_directory_and_to_a_path(workdir: Path, run_dkgen: Any) -> None:
    (workdir / "team").mkdir()
    assert run_dkgen("init", "team").exit_code == 0
    assert (workdir / "team" / "settings.yaml").is_file()
    assert run_dkgen("init", "team/prod.yaml").exit_code == 0
    assert (workdir / "team" / "prod.yaml").is_file()
    missing = run_dkgen("init", "nowhere/settings.yaml")
    assert missing.exit_code == 2
    assert missing.stderr == "nowhere/settings.yaml: error: the directory does not exist\n"
