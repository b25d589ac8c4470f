"""What a build imports: nothing heavy it does not use (see benchmarks/)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import sys
import dkgen.compiler
heavy = sorted(m for m in ("rfc3987_syntax", "lark", "arrow", "isoduration", "webcolors")
               if m in sys.modules)
print(",".join(heavy))
"""


def test_compiler_does_not_import_format_checker_libraries() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_blocked_modules_stay_importable_afterwards() -> None:
    import importlib.util

    import dkgen.schema_validator  # noqa: F401  # the import under test

    for name in ("rfc3987_syntax", "webcolors"):
        if importlib.util.find_spec(name) is not None:
            assert importlib.import_module(name).__name__ == name
