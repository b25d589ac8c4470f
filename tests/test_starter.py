"""`dkgen init`: the starter file builds as is, round-trips, and never overwrites."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dkgen.resources import load_schema
from dkgen.schema_index import schema_at, schema_keys
from dkgen.starter import COMMON_SETTINGS, starter_settings


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
    built = run_dkgen("build", "settings.yaml", "-o", "out")
    assert built.exit_code == 0, built.stderr
    # The one warning points at the starter's own `project: null`: the setting a
    # new user fills in to get Workload Identity.
    project_line = starter_settings().splitlines().index("  project: null") + 1
    assert built.stderr.startswith(f"settings.yaml:{project_line}:3: warning: gcs.access:")
    assert built.stderr.count("warning:") == 1
    assert (workdir / "out" / "kustomization.yaml").is_file()


def test_starter_changes_no_default(workdir: Path, run_dkgen: Any) -> None:
    """Every value the starter writes is the default: it merges to exactly what the
    defaults plus a cluster name give."""
    run_dkgen("init")
    from_starter = run_dkgen("config", "settings.yaml", "--format", "json")
    from_defaults = run_dkgen("config", "-s", "cluster.name=my-dask", "--format", "json")
    assert json.loads(from_starter.stdout) == json.loads(from_defaults.stdout)


def test_starter_round_trips_through_a_comment_preserving_yaml_editor() -> None:
    """Loaded and saved by ruamel.yaml (as a tool editing it would), every byte and
    comment survives; ruamel only needs telling to spell null as `null`."""
    text = starter_settings()
    yaml = YAML(typ="rt")
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    out = io.StringIO()
    yaml.dump(yaml.load(text), out)
    assert out.getvalue() == text


def test_starter_content() -> None:
    text = starter_settings()
    lines = text.splitlines()
    assert lines[0] == f"# yaml-language-server: $schema={load_schema()['$id']}"
    data = YAML(typ="safe").load(text)
    for key in COMMON_SETTINGS:
        section, name = key.split(".")
        assert name in data[section], key
        # Each chosen setting has its comment on the line above.
        index = lines.index(f"  {name}: {text.split(f'  {name}: ')[1].splitlines()[0]}")
        assert lines[index - 1].startswith("  # "), key
    # Every other (non-deprecated) setting is at least mentioned by name.
    for key in schema_keys():
        if (schema_at(tuple(key.split("."))) or {}).get("deprecated"):
            continue
        assert key.rsplit(".", 1)[-1] in text, key


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
