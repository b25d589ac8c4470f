"""The benchmark runner (benchmarks/run.py) works: a tiny run of every
measurement, so the benchmark code cannot rot. Nothing about time is asserted."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dkgen.compiler import compile_layers
from dkgen.load import parse_layer
from tests.conftest import REPO


def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dkgen_benchmark", REPO / "benchmarks/run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generated_fleet_settings_are_valid_and_warning_free() -> None:
    """The fleet measures the normal path: no errors, no warnings, all different."""
    run = runner()
    names = set()
    for index in range(12):
        build = compile_layers([parse_layer(run.fleet_settings(index), f"team-{index}.yaml")])
        assert build.warnings == ()
        names.add(build.settings.cluster.name)
    assert len(names) == 12


@pytest.mark.slow
def test_a_tiny_run_of_every_measurement(tmp_path: Path) -> None:
    run = runner()
    results = run.Results()
    run.measure_one_cluster(tmp_path, 1, results)
    run.measure_fleet(tmp_path, 2, 1, results)
    run.measure_fleet(tmp_path, 3, 1, results)
    results.rate = run.throughput(tmp_path / "fleet-3", 0.01)
    with_kubectl = shutil.which("kubectl") is not None
    assert set(results.one) == {"build", "check"} | ({"kustomize"} if with_kubectl else set())
    for series in [*results.one.values(), *results.fleets[3].values()]:
        assert len(series.samples) == 1
        assert series.samples[0].seconds > 0
        assert series.samples[0].peak_rss > 1024 * 1024
    assert results.rate["clusters"] >= 3
    # The fleet's output root is removed again; the settings stay for the next step.
    assert not (tmp_path / "out-3").exists()
    assert len(list((tmp_path / "fleet-3").glob("*.yaml"))) == 3

    text = run.table(results, run.versions())
    for expected in (
        "## One cluster",
        "| CPU (user+sys) |",
        "| `dkgen check settings.yaml -o OUT` (up to date) |",
        "| 3 | ",
        "clusters/s",
        "| check ≤ build | ",
        "| peak RSS, fleet of 3 ≤ 300 MiB | ",
        "| time(3) / time(2) ≤ 1.65 (near-linear) | ",
    ):
        assert expected in text
    if with_kubectl:
        assert "| cold build ≤ 1.0\N{MULTIPLICATION SIGN} kustomize | " in text
        assert "| fleet of 3: build ≤ 0.2\N{MULTIPLICATION SIGN} kustomize | " in text

    # --one-cluster: the one-cluster table alone.
    alone = run.Results(one=results.one, one_rounds=1)
    assert "## Fleets" not in run.table(alone, ["one cluster"])

    # Without kubectl the dkgen columns still make a table.
    for series in (results.one, *results.fleets.values()):
        series.pop("kustomize", None)
    bare = run.table(results, ["kubectl not found"])
    assert "| cold build ≤ 1.0\N{MULTIPLICATION SIGN} kustomize | no kubectl |" in bare
