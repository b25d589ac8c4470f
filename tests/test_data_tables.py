"""The JSON copies of the data tables hold exactly what their YAML says.

dkgen reads ``data/machine-types.json`` and ``data/prices.json`` (fast to
load at every build); ``data/*.yaml`` are what people review and edit.
tools/compile_tables.py writes the copies; a hand edit of a copy, or a
YAML edit without running it, fails here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.capacity import cost, machines
from dkgen.resources import machine_types_path, prices_path
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import compile_tables  # the generator is a script in tools/

STALE = "data/{} is stale: run python tools/compile_tables.py"


@pytest.mark.parametrize("source", sorted(compile_tables.TABLES))
def test_each_copy_is_what_the_tool_makes_from_the_yaml(source: str) -> None:
    target = compile_tables.TABLES[source]
    shipped = (REPO / "data" / target).read_text(encoding="utf-8")
    assert shipped == compile_tables.render(source), STALE.format(target)


@pytest.mark.parametrize(
    ("path", "table_of"),
    [(machine_types_path(), machines.table_of), (prices_path(), cost.table_of)],
    ids=["machines", "prices"],
)
def test_the_copy_builds_the_table_the_yaml_builds(
    path: Path, table_of: Callable[[dict[str, Any]], object]
) -> None:
    """Through the same reader, the pure YAML loader's data and the copy's
    give equal tables (every field converted the same)."""
    from_yaml = table_of(yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
    from_json = table_of(json.loads(path.with_suffix(".json").read_text(encoding="utf-8")))
    assert from_json == from_yaml


def test_the_shipped_tables_are_read_from_the_copies() -> None:
    assert machines.machine_table() == machines.table_of(
        json.loads(machine_types_path().with_suffix(".json").read_text(encoding="utf-8"))
    )
    assert cost.price_table() == cost.table_of(
        json.loads(prices_path().with_suffix(".json").read_text(encoding="utf-8"))
    )


def test_what_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError, match=r"\.a: set has no JSON form"):
        compile_tables.plain({"a": {1, 2}})
    with pytest.raises(TypeError, match=r"key 1\.5 has no JSON form"):
        compile_tables.plain({1.5: "x"})
