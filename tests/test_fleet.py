"""Fleet builds: ``build``/``check`` with ``--each``, one ``out/<cluster-name>/`` per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dkgen import emit, fleet, load, resources, validate
from dkgen.emit import MANIFEST
from tests.conftest import read_tree

FILES = {
    "clusters/a.yaml": "cluster:\n  name: alpha\n",
    "clusters/b.yaml": "cluster:\n  name: beta\nworkers:\n  count: 3\n",
    "clusters/c.yaml": "# the third\ncluster: {name: gamma, zone: europe-west4-a}\n",
}
SHARED = ["--overlay", "dev", "-s", "scheduler.cpus=1.5", "-s", "cluster.project=fleet-project"]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def fleet_args(*extra: str) -> list[str]:
    return [*sorted(FILES), "-o", "out", "--each", *SHARED, *extra]


def test_one_directory_per_cluster_same_as_single_builds(repo: Path, run_dkgen: Any) -> None:
    result = run_dkgen("build", *fleet_args())
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "dkgen: wrote 19 new files to out/alpha\n"
        "dkgen: wrote 19 new files to out/beta\n"
        "dkgen: wrote 19 new files to out/gamma\n"
        "dkgen: 3 clusters in out; $555-$1,164/month at list prices\n"
    )
    assert sorted(p.name for p in (repo / "out").iterdir()) == ["alpha", "beta", "gamma"]
    for source, name in zip(sorted(FILES), ["alpha", "beta", "gamma"], strict=True):
        # At the same depth, so the inputs are named the same from both.
        single = run_dkgen("build", source, "-o", f"single/{name}", *SHARED)
        assert single.exit_code == 0
        assert read_tree(repo / "out" / name) == read_tree(repo / "single" / name)
    assert "replicas: 3" in (repo / "out/beta/deployment-dask-worker-default.yaml").read_text()
    assert "europe-west4-a" in (repo / "out/gamma/cluster.sh").read_text()
    for name in ("alpha", "beta", "gamma"):
        assert "dkgen:overlays/dev.yaml" in (repo / "out" / name / MANIFEST).read_text()
        assert "cpu: 1500m" in (repo / "out" / name / "deployment-dask-scheduler.yaml").read_text()


def test_duplicate_names_and_every_problem_at_once(repo: Path, run_dkgen: Any) -> None:
    (repo / "clusters/d.yaml").write_text("cluster: {name: alpha}\n")
    (repo / "clusters/e.yaml").write_text("cluster:\n  name: epsilon\nworkers:\n  count: -1\n")
    files = ["clusters/a.yaml", "clusters/b.yaml", "clusters/d.yaml", "clusters/e.yaml"]
    result = run_dkgen("build", *files, "-o", "out", "--each")
    assert result.exit_code == 2
    assert result.stderr == (
        "clusters/d.yaml:1:17: error: cluster.name: 'alpha' is also the cluster name of "
        "clusters/a.yaml:2:9; both would build into out/alpha/\n"
        "  hint: give each settings file its own cluster.name\n"
        "clusters/e.yaml:4:10: error: workers.count: -1 is out of range (allowed: 0 ≤ value "
        "≤ 10000)\n"
        "dkgen: 2 problems\n"
    )
    assert not (repo / "out").exists(), "nothing is written when any cluster is wrong"


def test_duplicate_name_from_a_shared_override(repo: Path, run_dkgen: Any) -> None:
    files = ["clusters/a.yaml", "clusters/b.yaml"]
    result = run_dkgen("check", *files, "-o", "out", "--each", "-s", "cluster.name=same")
    assert result.exit_code == 2
    assert result.stderr == (
        "clusters/b.yaml: error: cluster.name: 'same' (set by -s cluster.name=same) is also "
        "the cluster name of clusters/a.yaml (set by -s cluster.name=same); both would "
        "build into out/same/\n"
        "  hint: give each settings file its own cluster.name\n"
    )


def test_a_refusal_in_one_cluster_writes_none(repo: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", *fleet_args()).exit_code == 0
    edited = repo / "out/gamma/service-jupyter.yaml"
    edited.write_text(edited.read_text() + "# tweak\n")
    before = {name: read_tree(repo / "out" / name) for name in ("alpha", "beta", "gamma")}
    result = run_dkgen("build", *fleet_args("-s", "workers.count=5"))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"{edited.resolve()}: error: was edited by hand since dkgen generated it"
    )
    assert {name: read_tree(repo / "out" / name) for name in before} == before


def test_check_over_a_fleet(repo: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", *fleet_args()).exit_code == 0
    clean = run_dkgen("check", *fleet_args())
    assert (clean.exit_code, clean.stdout) == (0, "")
    assert clean.stderr == (
        "dkgen: 3 clusters in out: all up to date; $555-$1,164/month at list prices\n"
    )

    (repo / "clusters/b.yaml").write_text("cluster:\n  name: beta\nworkers:\n  count: 4\n")
    (repo / "out/alpha/NOTES.md").write_text("user file, not a difference\n")
    changed = run_dkgen("check", *fleet_args())
    assert changed.exit_code == 1
    # The worker count changes the Deployment and the README's capacity table.
    headers = [line for line in changed.stdout.splitlines() if line.startswith(("---", "+++"))]
    assert headers == [
        "--- out/beta/README.md",
        "+++ out/beta/README.md",
        "--- out/beta/deployment-dask-worker-default.yaml",
        "+++ out/beta/deployment-dask-worker-default.yaml",
    ]
    assert "-  replicas: 3\n+  replicas: 4\n" in changed.stdout
    assert changed.stderr == (
        "dkgen: out/beta: 2 changed\ndkgen: 3 clusters in out: 1 out of date, 2 up to date; "
        "$555-$1,164/month at list prices\n"
    )


def test_stale_cluster_directory_is_reported_and_kept(repo: Path, run_dkgen: Any) -> None:
    """A cluster dropped from the fleet keeps its directory: its cluster.sh
    delete is how the real cluster gets torn down."""
    assert run_dkgen("build", *fleet_args()).exit_code == 0
    (repo / "out" / "not-a-cluster").mkdir()
    two = ["clusters/a.yaml", "clusters/b.yaml", "-o", "out", "--each", *SHARED]
    stale = (
        "no settings file builds this cluster any more; if the cluster still exists, "
        "run its cluster.sh delete, then remove the directory"
    )
    result = run_dkgen("check", *two, "--quiet")
    assert result.exit_code == 1
    assert result.stderr == (
        f"dkgen: out/gamma: {stale}\n"
        "dkgen: 2 clusters in out: 0 out of date, 2 up to date; 1 stale cluster directory; "
        "$363-$781/month at list prices\n"
    )
    built = run_dkgen("build", *two)
    assert built.exit_code == 0
    assert built.stderr == f"out/gamma: warning: {stale}\n"
    assert (repo / "out/gamma/cluster.sh").is_file()


def test_fleet_root_must_not_be_a_single_output(repo: Path, run_dkgen: Any) -> None:
    assert run_dkgen("build", "clusters/a.yaml", "-o", "out").exit_code == 0
    result = run_dkgen("build", *fleet_args())
    assert result.exit_code == 2
    assert result.stderr == (
        "out: error: holds the output of a single build (it has a dkgen manifest); a fleet "
        "writes one directory per cluster below its own directory\n"
        "  hint: give the fleet another -o directory, or build without --each\n"
    )


def test_each_needs_files(repo: Path, run_dkgen: Any) -> None:
    result = run_dkgen("build", "-o", "out", "--each")
    assert result.exit_code == 2
    assert result.stderr == (
        "--each: error: needs at least one settings file (one per cluster)\n"
        "  hint: dkgen build clusters/*.yaml -o out/ --each\n"
    )


def test_one_parse_of_schema_defaults_and_overlays_per_fleet(
    repo: Path, run_dkgen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared work is done once per process, and each cluster is rendered and
    planned once, then staged before the next is rendered (one rendered tree
    alive at a time)."""
    for i in range(5):
        (repo / f"clusters/x{i}.yaml").write_text(f"cluster:\n  name: x{i}\n")
    for cached in (validate._validator, load.default_layer, resources.load_schema):
        cached.cache_clear()
    loaded: list[str] = []
    real_load = load.load_layer

    def counting_load(path: Path, source: str) -> Any:
        loaded.append(source)
        return real_load(path, source)

    monkeypatch.setattr(load, "load_layer", counting_load)
    events: list[str] = []
    real_render, real_plan, real_stage = fleet.render, fleet.plan_output, fleet.stage_output

    def render(member: fleet.Member) -> dict[str, str]:
        events.append(f"render {member.name}")
        return real_render(member)

    def plan(target: Path, *args: Any, **kwargs: Any) -> emit.OutputPlan:
        events.append(f"plan {target.name}")
        return real_plan(target, *args, **kwargs)

    def stage(target: Path, *args: Any, **kwargs: Any) -> emit.EmitReport:
        events.append(f"stage {target.name}")
        return real_stage(target, *args, **kwargs)

    monkeypatch.setattr(fleet, "render", render)
    monkeypatch.setattr(fleet, "plan_output", plan)
    monkeypatch.setattr(fleet, "stage_output", stage)
    files = [f"clusters/x{i}.yaml" for i in range(5)]
    result = run_dkgen("build", *files, "-o", "out", "--each", "--overlay", "prod")
    assert result.exit_code == 0, result.stderr
    assert validate._validator.cache_info().misses == 1
    assert load.default_layer.cache_info().misses == 1
    assert resources.load_schema.cache_info().misses == 1
    assert sorted(loaded) == ["dkgen:bases/default.yaml", "dkgen:overlays/prod.yaml"]
    names = [f"x{i}" for i in range(5)]
    assert events == [e for n in names for e in (f"render {n}", f"plan {n}", f"stage {n}")]
    events.clear()
    again = run_dkgen("build", *files, "-o", "out", "--each", "--overlay", "prod")
    assert again.stdout.count("is up to date (19 files)") == 5
    assert events == [e for n in names for e in (f"render {n}", f"plan {n}")]


def test_a_directory_stands_for_its_yaml_files(repo: Path, run_dkgen: Any) -> None:
    """Where no shell expands ``*`` (a pre-commit hook's args), name the folder."""
    (repo / "clusters" / "README.txt").write_text("not settings\n")
    (repo / "empty").mkdir()
    result = run_dkgen("build", "clusters", "-o", "out", "--each", *SHARED)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (repo / "out").iterdir()) == ["alpha", "beta", "gamma"]
    assert run_dkgen("check", *fleet_args()).exit_code == 0
    result = run_dkgen("check", "empty", "-o", "out", "--each", "--overlay", "nope")
    assert result.exit_code == 2
    assert result.stderr.startswith("--overlay nope: error: no shipped overlay named 'nope'\n")
    assert "empty: error: is a directory without *.yaml files\n" in result.stderr


def test_every_bad_file_of_a_fleet_reports_its_problems_in_one_run(
    repo: Path, run_dkgen: Any
) -> None:
    """Two files whose patches match nothing: both are named, and nothing is
    written, whichever stage finds a patch's problem."""
    for name, target in (("one", "nothing"), ("two", "nothing-either")):
        (repo / f"bad-{name}.yaml").write_text(
            f"cluster: {{name: {name}}}\npatches:\n"
            f"  - target: {{kind: Deployment, name: {target}}}\n"
            "    patch: {spec: {replicas: 2}}\n"
        )
    for command in ("build", "check"):
        result = run_dkgen(command, "bad-one.yaml", "bad-two.yaml", "-o", "out", "--each")
        assert result.exit_code == 2
        problems = [line for line in result.stderr.splitlines() if ": error: " in line]
        assert problems == [
            "bad-one.yaml:3:5: error: patches[0]: matches no generated object "
            "(kind=Deployment, name=nothing)",
            "bad-two.yaml:3:5: error: patches[0]: matches no generated object "
            "(kind=Deployment, name=nothing-either)",
        ], command
        assert not (repo / "out").exists()
