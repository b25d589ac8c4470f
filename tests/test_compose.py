"""Shipped examples and overlays combine, and spot/preemptible compose by precedence.

Every shipped example builds with every shipped overlay, and with the
stacks that make sense (but one pair, refused with a positioned error that
says why) (README, "Settings in layers"). ``spot`` and
``preemptible`` are one choice per pool: the later layer's wins and turns
the other off (dkgen/provisioning.py); only one layer setting both at one
level is an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dkgen.resources import shipped_overlays
from tests.conftest import REPO

EXAMPLES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "examples").glob("*.yaml"))
STACKS = [[name] for name in shipped_overlays()] + [
    ["dev", "spot"],
    ["spot", "dev"],
    ["prod", "spot"],
    ["dev", "gpu"],
    ["prod", "gpu"],
    ["gpu", "spot"],
    ["prod", "gpu", "spot"],
    ["dev", "gpu", "spot"],
]


def overlay_args(stack: list[str]) -> list[str]:
    return [arg for name in stack for arg in ("--overlay", name)]


# The one pair that cannot combine: the original tool's file pins the official
# Dask images for the scheduler (a later layer than the overlay), and no
# RAPIDS release that the gpu overlay's group could run pins that Dask. The
# build says so at the group's image (dkgen/rules/versions.py), with the fix.
REFUSED = {("examples/original-tool.yaml", "gpu")}


def refused(example: str, stack: list[str]) -> bool:
    return any((example, name) in REFUSED for name in stack)


@pytest.mark.parametrize("stack", STACKS, ids="+".join)
@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_builds_with_every_overlay_stack(
    example: str, stack: list[str], in_repo: Path, tmp_path: Path, run_dkgen: Any
) -> None:
    result = run_dkgen("build", example, *overlay_args(stack), "-o", tmp_path / "out")
    if refused(example, stack):
        assert result.exit_code == 2
        # At the settings file's scheduler image, the one to change first,
        # naming the overlay's group image (issue 24, item 2).
        assert "examples/original-tool.yaml:22:10: error: scheduler.image: " in result.stderr
        assert "but the scheduler's ghcr.io/dask/dask:" in result.stderr
        assert "  other value: worker_groups.gpu.image at dkgen:overlays/gpu.yaml:" in (
            result.stderr
        )
        assert "hint: run one Dask release and Python everywhere" in result.stderr
        assert not (tmp_path / "out").exists()
        return
    assert result.exit_code == 0, result.stderr
    assert "error:" not in result.stderr
    assert (tmp_path / "out" / "kustomization.yaml").is_file()


def config(run_dkgen: Any, *args: str) -> dict[str, Any]:
    result = run_dkgen("config", *args, "--format", "json", "--show-origin")
    assert result.exit_code == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_three_groups_with_dev_the_issues_steps(
    in_repo: Path, tmp_path: Path, run_dkgen: Any
) -> None:
    """`dkgen build examples/three-groups.yaml --overlay dev`: dev makes the pools
    preemptible; the file puts highmem on Spot, and the file is the later layer."""
    built = run_dkgen(
        "build", "examples/three-groups.yaml", "--overlay", "dev", "-o", tmp_path / "out"
    )
    assert built.exit_code == 0, built.stderr
    shown = config(run_dkgen, "examples/three-groups.yaml", "--overlay", "dev")
    settings, origins = shown["settings"], shown["origins"]
    assert settings["cluster"]["preemptible"] is True
    assert settings["worker_groups"]["highmem"]["spot"] is True
    assert settings["worker_groups"]["highmem"]["preemptible"] is False
    # The switch turned off names the line that decided.
    assert origins["worker_groups.highmem.preemptible"] == origins["worker_groups.highmem.spot"]
    assert origins["worker_groups.highmem.spot"]["source"] == "examples/three-groups.yaml"
    script = (tmp_path / "out" / "cluster.sh").read_text(encoding="utf-8")
    highmem = pool_command(script, "workers-highmem")
    assert "--spot" in highmem and "--preemptible" not in highmem
    default = pool_command(script, "workers-default")
    assert "--preemptible" in default and "--spot" not in default


def pool_command(script: str, pool: str) -> list[str]:
    """The flags of cluster.sh's `gcloud container node-pools create POOL` command."""
    after = script.split(f"node-pools create {pool} \\\n", 1)[1]
    flags = []
    for line in after.splitlines():
        flags.append(line.strip().removesuffix(" \\"))
        if not line.endswith("\\"):
            return flags
    raise AssertionError(f"{pool}: the command does not end")


@pytest.mark.parametrize(
    ("stack", "chosen", "off"),
    [
        (["dev", "spot"], "spot", "preemptible"),
        (["spot", "dev"], "preemptible", "spot"),
    ],
)
def test_the_later_overlay_chooses(
    stack: list[str], chosen: str, off: str, in_repo: Path, run_dkgen: Any
) -> None:
    shown = config(run_dkgen, *overlay_args(stack), "-s", "cluster.name=demo")
    assert shown["settings"]["cluster"][chosen] is True
    assert shown["settings"]["cluster"][off] is False


def test_an_override_chooses_over_every_file(in_repo: Path, run_dkgen: Any) -> None:
    shown = config(
        run_dkgen, "examples/settings.yaml", "--overlay", "dev", "-s", "cluster.spot=true"
    )
    assert shown["settings"]["cluster"]["spot"] is True
    assert shown["settings"]["cluster"]["preemptible"] is False
    assert shown["origins"]["cluster.preemptible"]["source"] == "-s cluster.spot=true"


def test_a_groups_own_key_wins_over_the_default_groups_in_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(
        "cluster: {name: demo, preemptible: true}\n"
        "worker_groups:\n  cheap: {count: 1, spot: true}\n",
        encoding="utf-8",
    )
    settings = config(run_dkgen, "s.yaml")["settings"]
    assert settings["cluster"]["preemptible"] is True
    assert settings["worker_groups"]["cheap"] == {"count": 1, "spot": True, "preemptible": False}


def test_both_in_one_layer_is_still_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(
        "cluster:\n  name: demo\n  preemptible: true\n  spot: true\n", encoding="utf-8"
    )
    result = run_dkgen("validate", "s.yaml", "--overlay", "spot")
    assert result.exit_code == 2
    assert result.stderr == (
        "s.yaml:4:9: error: cluster.spot: spot and preemptible are both true; a pool is one "
        "or the other\n"
        "  other value: cluster.preemptible at s.yaml:3:16\n"
        "  hint: keep spot (preemptible's successor) and set preemptible to false\n"
    )
