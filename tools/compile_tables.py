"""Write the JSON copies of the data tables every build reads.

``data/machine-types.yaml`` and ``data/prices.yaml`` are the reviewed
source: sources, dates and a comment on every figure. Every build reads
both (the capacity checks, the cost of the output's README), and loading
them with libyaml took 4-5 ms each, a tenth of a cold build; their JSON
copies, ``data/machine-types.json`` and ``data/prices.json``, load in
0.1-0.2 ms (benchmarks/README.md). A copy holds exactly the data PyYAML's
safe loader reads from the YAML, with what JSON cannot spell as YAML
wrote it: dates as ``YYYY-MM-DD`` strings and integer keys as strings (the
readers turn every field into the type they need either way). Its first key,
``generated``, says where it comes from.

``tests/test_data_tables.py`` fails when a copy is stale. After editing a
table:

    python tools/compile_tables.py
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent.parent / "data"
# The YAML source -> its JSON copy, in data/.
TABLES = {"machine-types.yaml": "machine-types.json", "prices.yaml": "prices.json"}


def plain(value: Any, where: str = "") -> Any:
    """``value`` as JSON holds it: dates as ISO strings, keys as strings."""
    if isinstance(value, dict):
        return {_key(key, where): plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, where) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"{where}: {type(value).__name__} has no JSON form")


def _key(key: Any, where: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise TypeError(f"{where}: key {key!r} has no JSON form")


def render(source: str) -> str:
    """The JSON copy of the YAML table named ``source`` (in data/)."""
    data = yaml.load((DATA / source).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    note = f"generated from data/{source} by tools/compile_tables.py; do not edit"
    copy = {"generated": note, **plain(data)}
    return json.dumps(copy, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    for source, target in TABLES.items():
        (DATA / target).write_text(render(source), encoding="utf-8")
        print(f"wrote data/{target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
