"""The real tools accept every golden output (tests/validators.py drives them).

* ``kubectl kustomize`` builds the directory and yields exactly the generated objects;
* kubernetes-validate, strict, for every Kubernetes minor from 1.30 to the newest shipped;
  custom resources (kinds in ``tests/crd_validation.CRD_SCHEMAS``) strictly against
  our own schemas of their CRDs instead (tests/crd_schemas/), never skipped;
* gcloud's own parser accepts every gcloud line ``cluster.sh --dry-run`` prints;
* shellcheck reports nothing on ``cluster.sh`` and ``prune.sh``.

The golden test proves ``expected/`` equals a fresh build, so checking the
committed trees checks the compiler. With CI=true a missing tool fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests import validators
from tests.crd_validation import is_custom_resource, validate_custom_resource
from tests.test_golden import CASE_DIRS

EXPECTED = [case / "expected" for case in CASE_DIRS]
IDS = [case.name for case in CASE_DIRS]
# The costly tools (shellcheck takes 0.8 s of CPU per cluster.sh; gcloud,
# Kubernetes schemas of eight minors) check every case in the full suite;
# the inner loop (-m "not slow") keeps the shipped example and the case
# with the most node pools.
INNER_LOOP_CASES = {"example", "three-groups"}
COSTLY = [
    pytest.param(case / "expected", id=case.name,
                 marks=() if case.name in INNER_LOOP_CASES else pytest.mark.slow)
    for case in CASE_DIRS
]  # fmt: skip
SCRIPT_ACTIONS = ["apply", "credentials", "status", "delete"]


@pytest.mark.parametrize("out", EXPECTED, ids=IDS)
def test_kustomize_yields_exactly_the_generated_objects(out: Path) -> None:
    validators.assert_kustomize_yields_exactly(out)


@pytest.mark.parametrize("out", COSTLY)
def test_kubernetes_schemas_strict_every_supported_version(out: Path) -> None:
    manifests = sorted(p for p in out.glob("*.yaml") if p.name != "kustomization.yaml")
    assert manifests
    custom = [p for p in manifests if is_custom_resource(yaml.safe_load(p.read_text()))]
    for path in custom:
        assert validate_custom_resource(yaml.safe_load(path.read_text())) == [], path
    manifests = [p for p in manifests if p not in custom]
    versions = validators.kubernetes_versions()
    assert versions[0] == "1.30.0"
    validators.kubernetes_validate_strict(manifests, versions)


@pytest.mark.parametrize("out", COSTLY)
def test_shellcheck_is_clean(out: Path) -> None:
    validators.shellcheck(out / "cluster.sh")
    validators.shellcheck(out / "prune.sh")


@pytest.mark.parametrize("out", COSTLY)
def test_gcloud_accepts_every_command(out: Path) -> None:
    commands = [
        command
        for action in SCRIPT_ACTIONS
        for command in validators.gcloud_lines_from_dry_run(out / "cluster.sh", action)
    ]
    kinds = {tuple(c[1:4]) for c in commands}
    assert ("container", "clusters", "create") in kinds
    assert ("container", "clusters", "delete") in kinds
    validators.gcloud_check_commands(commands)
