"""What a build imports: the modules it needs and nothing else (see benchmarks/).

A cold ``dkgen build`` is mostly Python importing modules, so the start-up
cost is guarded here without timing anything: each test runs dkgen in a
fresh interpreter and compares the modules it imported with the lists below.
A change that makes a build import one more module fails with that module's
name, before anyone has to notice a slower build.

How to update the lists:

* A new dkgen module that every build really needs (a new renderer or rule):
  add it to ``BUILD_MODULES``. A module only some commands or some inputs
  need (a report, a describing command, an error's wording, a rebuild's
  impact) is imported where it is used instead (a function-level import
  with a comment saying why), and stays out of the list.
* A dkgen module a build no longer imports: remove it from the list (the
  test says which).
* ``HEAVY`` names modules a valid build of the example must never import;
  ``python -X importtime -m dkgen build examples/settings.yaml -o /tmp/out``
  shows what a module costs and who imports it. Before adding to either
  list, measure with ``benchmarks/run.py`` (benchmarks/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Runs the command line as `dkgen ...` does (dkgen.entry: click only where
# needed) and prints the modules it imported, as JSON, on the last line of stdout.
PROBE = """
import sys
from dkgen.entry import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
modules = sorted(sys.modules)
import json
print(json.dumps({"code": code, "modules": modules}))
"""

# Every dkgen module a build of examples/settings.yaml into a new directory imports.
BUILD_MODULES = frozenset(
    {
        "dkgen",
        "dkgen.argv",
        "dkgen.autoscaling",
        "dkgen.capacity",
        "dkgen.capacity.machines",
        "dkgen.capacity.cost",
        "dkgen.render.cluster_hardening",
        "dkgen.rules.cluster_hardening",
        "dkgen.capacity.cost_report",
        "dkgen.identity",
        "dkgen.render.prune_script",
        "dkgen.rules.budget",
        "dkgen.rules.conflict",
        "dkgen.rules.no_effect",
        "dkgen.capacity.packing",
        "dkgen.capacity.report",
        "dkgen.capacity.reservations",
        "dkgen.check",
        "dkgen.commands",
        "dkgen.compiler",
        "dkgen.console",
        "dkgen.emit",
        "dkgen.emit.lock",
        "dkgen.emit.plan",
        "dkgen.emit.swap",
        "dkgen.entry",
        "dkgen.errors",
        "dkgen.fleet",
        "dkgen.input_names",
        "dkgen.keypath",
        "dkgen.kube_rules",
        "dkgen.limits",
        "dkgen.load",
        "dkgen.merge",
        "dkgen.patches",
        "dkgen.provisioning",
        "dkgen.quantity",
        "dkgen.records",
        "dkgen.render",
        "dkgen.render.autoscaling",
        "dkgen.render.cluster_script",
        "dkgen.render.common",
        "dkgen.render.daskconfig",
        "dkgen.render.jupyter",
        "dkgen.render.jupyter_home",
        "dkgen.render.kustomization",
        "dkgen.render.loadbalancers",
        "dkgen.render.monitoring",
        "dkgen.render.namespace",
        "dkgen.render.networkpolicy",
        "dkgen.render.patches",
        "dkgen.render.poddisruptionbudget",
        "dkgen.render.port_forward",
        "dkgen.render.readme",
        "dkgen.render.rollout",
        "dkgen.render.scheduler",
        "dkgen.render.serviceaccount",
        "dkgen.render.worker_lifecycle",
        "dkgen.render.workers",
        "dkgen.repair",
        "dkgen.resources",
        "dkgen.restated",
        "dkgen.rules",
        "dkgen.rules.access",
        "dkgen.rules.adaptive",
        "dkgen.rules.buckets",
        "dkgen.rules.capacity",
        "dkgen.rules.configmap_size",
        "dkgen.rules.deprecations",
        "dkgen.rules.gcs",
        "dkgen.rules.images",
        "dkgen.rules.jupyter_home",
        "dkgen.rules.location",
        "dkgen.rules.namespace",
        "dkgen.rules.patch_safety",
        "dkgen.rules.ports",
        "dkgen.rules.privileged_ports",
        "dkgen.rules.regional_nodes",
        "dkgen.rules.resources",
        "dkgen.rules.scratch",
        "dkgen.rules.secrets",
        "dkgen.rules.source_ranges",
        "dkgen.rules.versions",
        "dkgen.rules.worker_groups",
        "dkgen.schema_fast",
        "dkgen.schema_index",
        "dkgen.schema_messages",
        "dkgen.scratch",
        "dkgen.secrets",
        "dkgen.settings",
        "dkgen.suggest",
        "dkgen.target_regex",
        "dkgen.validate",
        "dkgen.yaml",
        "dkgen.yaml.directives",
        "dkgen.yaml.dump",
        "dkgen.yaml.read",
        "dkgen.yaml.read_fast",
        # The module is small; it imports ruamel only for input the fast reader declines.
        "dkgen.yaml.read_ruamel",
    }
)

# What a valid build must not import, with what each costs or why it is not needed.
HEAVY = {
    "click": "15-20 ms with inspect, uuid, datetime, gettext, difflib; dkgen.argv reads "
    "build's usual command line (tests/test_cli_fast.py holds it to click's)",
    "ruamel": "23-70 ms; read only for YAML the fast reader declines (dkgen/yaml/read.py)",
    "jsonschema": "70-170 ms; imported only to word the problems of invalid settings",
    "referencing": "jsonschema's; see jsonschema",
    "rpds": "jsonschema's; see jsonschema",
    "dataclasses": "its decorator compiled six functions per class: use dkgen.records",
    "importlib.metadata": "slow to import; dkgen.__version__ is a constant",
    "importlib.resources": "imports tempfile and random; dkgen.resources finds the data",
    "tempfile": "only tests and the staging path need temporary names, made by hand",
    "shutil": "imports bz2 and lzma; a first build removes nothing",
    "difflib": "only a did-you-mean needs it (dkgen.suggest.closest imports it then)",
    "textwrap": "compiles its regular expressions on import; only text reports wrap",
    "subprocess": "dkgen starts no process",
    "asyncio": "not used",
    "logging": "not used",
    "dkgen.impact": "the impact of a change: a first build replaces nothing",
    "dkgen.yaml.text": "the people-facing YAML writer (config, explain, init, notes); imports ruamel",  # noqa: E501
    "dkgen.explain": "dkgen explain",
    "dkgen.docs": "docs/settings.md",
    "dkgen.starter": "dkgen init",
    "dkgen.provenance": "dkgen config",
    "dkgen.schema_validator": "jsonschema, for invalid settings",
}


def imported_by(*args: str, cwd: Path = REPO) -> set[str]:
    """The modules ``dkgen ARGS`` imports in a fresh interpreter; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["code"] in (0, None), result.stderr
    return set(probe["modules"])


def heavy_among(modules: set[str], allowed: frozenset[str] = frozenset()) -> list[str]:
    """The ``HEAVY`` modules (or their submodules) among ``modules``, but ``allowed``."""
    return sorted(
        f"{name} ({why})"
        for name, why in HEAVY.items()
        if name not in allowed
        and (name in modules or any(m.startswith(f"{name}.") for m in modules))
    )


def test_a_build_imports_exactly_the_modules_it_needs(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    modules = imported_by("build", str(REPO / "examples" / "settings.yaml"), "-o", out)
    dkgen = {m for m in modules if m == "dkgen" or m.startswith("dkgen.")}
    assert heavy_among(modules) == [], "a build of the example imports heavy modules"
    added = sorted(dkgen - BUILD_MODULES)
    assert added == [], (
        f"a build now imports {added}: import them where they are used, or, if every "
        "build needs them, add them to BUILD_MODULES (see this module's docstring)"
    )
    gone = sorted(BUILD_MODULES - dkgen)
    assert gone == [], f"a build no longer imports {gone}: remove them from BUILD_MODULES"


def test_a_rebuild_imports_the_impact_report_and_nothing_heavy(tmp_path: Path) -> None:
    example = str(REPO / "examples" / "settings.yaml")
    assert "shutil" not in imported_by("build", example, "-o", str(tmp_path))  # empty: rmdir
    modules = imported_by("build", example, "-o", str(tmp_path), "-s", "workers.count=5")
    assert "dkgen.impact" in modules
    assert heavy_among(modules, frozenset({"dkgen.impact", "shutil"})) == []


def test_a_check_reads_its_command_line_without_click(tmp_path: Path) -> None:
    example = str(REPO / "examples" / "settings.yaml")
    imported_by("build", example, "-o", str(tmp_path))
    modules = imported_by("check", example, "-o", str(tmp_path))
    assert "dkgen.cli" not in modules and "click" not in modules


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("build", "--help")])
def test_version_and_help_import_only_the_command_line(args: tuple[str, ...]) -> None:
    modules = imported_by(*args)
    dkgen = sorted(m for m in modules if m.startswith("dkgen."))
    assert dkgen == [
        "dkgen.argv",
        "dkgen.cli",
        "dkgen.commands",
        "dkgen.console",
        "dkgen.entry",
        "dkgen.errors",
        "dkgen.records",
    ]
    # click reads these command lines; its help formatting takes the terminal's
    # width from shutil and wraps with textwrap.
    assert "yaml" not in modules
    assert heavy_among(modules, frozenset({"click", "shutil", "textwrap"})) == []


LIBRARY_PROBE = """
import sys
import dkgen.compiler
heavy = sorted(m for m in ("rfc3987_syntax", "lark", "arrow", "isoduration", "webcolors")
               if m in sys.modules)
print(",".join(heavy))
"""


def test_compiler_does_not_import_format_checker_libraries() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LIBRARY_PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_blocked_modules_stay_importable_afterwards() -> None:
    import importlib.util

    import dkgen.schema_validator  # noqa: F401  # the import under test

    for name in ("rfc3987_syntax", "webcolors"):
        if importlib.util.find_spec(name) is not None:
            assert importlib.import_module(name).__name__ == name


def test_the_command_ends_without_teardown_and_keeps_its_output_and_exit_codes(
    tmp_path: Path,
) -> None:
    """``dkgen`` ends with ``os._exit`` (dkgen.entry.run): every byte printed
    still arrives, exit codes are kept, a bug still shows its traceback."""
    command = [sys.executable, "-m", "dkgen"]
    schema = subprocess.run([*command, "schema"], capture_output=True, check=True)
    assert schema.stdout == (REPO / "schema" / "settings.schema.json").read_bytes()
    version = subprocess.run([*command, "--version"], check=False, capture_output=True, text=True)
    assert (version.returncode, version.stdout) == (0, "dkgen, version 0.1.0\n")
    missing = subprocess.run(
        [*command, "validate", str(tmp_path / "missing.yaml")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "missing.yaml" in missing.stderr
    usage = subprocess.run([*command, "build"], check=False, capture_output=True, text=True)
    assert usage.returncode == 2 and "Missing option" in usage.stderr
