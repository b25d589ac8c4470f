"""Settings that do nothing say so (issue 24, item 4; dkgen/rules/no_effect.py),
and a pool that would start above its ceiling is refused or warned about
(dkgen/rules/worker_groups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

NAME = "cluster:\n  name: demo\n"
GCS = "gcs: {access: node_scopes}\n"

CASES = [
    (
        "min_nodes and max_nodes with autoscaling off",
        NAME + "  min_nodes: 1\n  max_nodes: 5\n",
        [
            "s.yaml:3:14: note: cluster.min_nodes: min_nodes does nothing while autoscaling is "
            "off: the pool keeps num_nodes (3) nodes",
            "s.yaml:4:14: note: cluster.max_nodes: max_nodes does nothing while autoscaling is "
            "off: the pool keeps num_nodes (3) nodes",
        ],
    ),
    (
        "a group's max_nodes on its fixed pool, while the default group autoscales",
        NAME + "  autoscaling: true\nworker_groups:\n  big: {autoscaling: false, max_nodes: 9}\n",
        [
            "s.yaml:5:40: note: worker_groups.big.max_nodes: max_nodes does nothing while "
            "autoscaling is off: the pool keeps num_nodes (3) nodes",
        ],
    ),
    (
        "the default group's max_nodes read by an autoscaling group is not idle",
        NAME + "  max_nodes: 9\nworker_groups:\n  big: {autoscaling: true, min_nodes: 0}\n",
        [],
    ),
    (
        "count beside adaptive",
        NAME + "  autoscaling: true\nworkers:\n  count: 5\n  adaptive: {min: 1, max: 4}\n",
        [
            "s.yaml:5:10: note: workers.count: count does nothing while the group is adaptive: "
            "KEDA runs between 1 and 4 workers",
        ],
    ),
    (
        "a group that inherits adaptive",
        NAME + "  autoscaling: true\nworkers:\n  adaptive: {min: 1, max: 4}\n"
        "worker_groups:\n  x: {resources: {X: 1}}\n",
        [
            "s.yaml:7:3: note: worker_groups.x: worker group x sets no adaptive, so it inherits "
            "workers.adaptive: it scales between 1 and 4 workers with the work only it can run, "
            "and its count is not used",
        ],
    ),
    (
        "a group that sets its own adaptive range",
        NAME + "  autoscaling: true\nworkers:\n  adaptive: {min: 1, max: 4}\n"
        "worker_groups:\n  x: {resources: {X: 1}, adaptive: {min: 0, max: 2}}\n",
        [],
    ),
    (
        "num_nodes left at dkgen's default above a max_nodes of 2",
        NAME + "  autoscaling: true\n  min_nodes: 1\n  max_nodes: 2\n",
        [
            "s.yaml:5:14: warning: cluster.max_nodes: num_nodes (3, dkgen's default) is larger "
            "than max_nodes (2): the pool would start with 3 nodes, above its autoscaling "
            "ceiling",
        ],
    ),
]


@pytest.mark.parametrize(
    ("settings", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_setting_that_does_nothing_is_noted(
    settings: str,
    expected: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(settings + GCS, encoding="utf-8")
    result = run_dkgen("validate", "s.yaml")
    assert result.exit_code == 0, result.stderr
    # The note about KEDA's unpinned manifest digest is tests/test_adaptive.py's.
    first_lines = [
        line
        for line in result.stderr.splitlines()
        if (": note: " in line or ": warning: cluster.max" in line)
        and "keda.manifest_sha256" not in line
    ]
    assert first_lines == expected


def test_notes_pass_strict_and_the_shipped_defaults_are_never_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """min_nodes and max_nodes are in bases/default.yaml with autoscaling off:
    only what the user wrote is noted, and a note never fails --strict."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(NAME + "  max_nodes: 5\n" + GCS, encoding="utf-8")
    result = run_dkgen("validate", "s.yaml", "--strict")
    assert result.exit_code == 0, result.stderr
    assert "cluster.max_nodes: max_nodes does nothing" in result.stderr
    assert "cluster.min_nodes" not in result.stderr
