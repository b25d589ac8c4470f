"""Regional clusters: an inherited num_nodes (per zone) is never silently tripled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REGIONAL = "cluster:\n  name: r\n  zone: null\n  region: us-east1\n"
GROUP = "worker_groups:\n  big:\n    count: 1\n"


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        (REGIONAL, ["workers-default"]),
        (REGIONAL + GROUP, ["workers-default", "workers-big"]),
        (REGIONAL + "  num_nodes: 1\n" + GROUP, ["workers-big"]),
        (REGIONAL + "  num_nodes: 1\n" + GROUP + "    num_nodes: 1\n", []),
        ("cluster:\n  name: z\n" + GROUP, []),  # zonal: num_nodes is the pool's size
    ],
)
def test_inherited_regional_counts_warn(
    settings: str, warned: list[str], tmp_path: Path, run_dkgen: Any
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(settings)
    result = run_dkgen("validate", path)
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "of the regional cluster" in line]
    assert sorted(line.split("node pool ")[1].split(" ")[0] for line in lines) == sorted(warned)
    for line in lines:
        count = int(line.split("inherits num_nodes ")[1].split(",")[0])
        assert f"starts with {count * 3} nodes (3 zones)" in line
