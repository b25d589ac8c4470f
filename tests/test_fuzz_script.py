"""Property: every value of random valid settings reaches cluster.sh's commands quoted, intact.

``cluster.sh create --dry-run`` and ``delete --dry-run`` print each gcloud
command shell-quoted; bash splits them back into argv
(tests/validators.py ``gcloud_lines_from_dry_run``), and each setting's
value must come back as exactly one word, equal to the value. A sample of
the scripts also goes through shellcheck.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from dkgen.compiler import compile_settings
from tests import validators
from tests.fuzzing import (
    CASES,
    Inputs,
    build_and_check,
    examples,
    settings_text,
    valid_settings,
    workdir,
)

# Property-based: the inner loop skips them with -m 'not fuzz'; CI runs them.
pytestmark = pytest.mark.fuzz

SHELLCHECK_EVERY = 30


def flag_values(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command[:-1]) if word == flag]


def test_cluster_script_quotes_every_value() -> None:
    checked: list[int] = []

    @settings(max_examples=examples(1.5))
    @given(tree=valid_settings())
    def case(tree: dict[str, Any]) -> None:
        CASES["cluster.sh quoting"] += 1
        with workdir():
            inputs = Inputs({"s.yaml": settings_text(tree, "block")}, ["s.yaml"])
            if build_and_check(inputs, strict=False).exit_code != 0:
                return
            script = Path("out/cluster.sh")
            commands = [
                c
                for action in ("apply", "delete")
                for c in validators.gcloud_lines_from_dry_run(script.resolve(), action)
            ]
            cluster = compile_settings([Path("s.yaml")]).settings.cluster
            assert_values_intact(commands, tree, cluster)
            checked.append(1)
            if len(checked) % SHELLCHECK_EVERY == 1:
                validators.shellcheck(script)

    case()
    assert checked, "no case built"


def assert_values_intact(commands: list[list[str]], tree: dict[str, Any], cluster: Any) -> None:
    given_cluster = tree.get("cluster", {})
    # What the settings file said is what dkgen's settings hold ...
    for key in ("name", "zone", "region", "project"):
        if key in given_cluster:
            assert getattr(cluster, key) == given_cluster[key], key
    if "labels" in given_cluster:
        assert dict(cluster.labels) == given_cluster["labels"]
    if "network_tags" in given_cluster:
        assert list(cluster.network_tags) == given_cluster["network_tags"]
    # ... and each reaches gcloud as one whole word.
    creates = [c for c in commands if c[1:4] == ["container", "clusters", "create"]]
    assert len(creates) == 1
    create = creates[0]
    assert create[4] == cluster.name
    for command in commands:
        if command[1] == "container" and command[3] in {"create", "delete", "list"}:
            if cluster.region:
                assert flag_values(command, "--region") == [cluster.region], command
            else:
                assert flag_values(command, "--zone") == [cluster.zone], command
            if cluster.project:
                assert flag_values(command, "--project") == [cluster.project], command
        if command[2] == "node-pools" and command[3] == "create":
            assert flag_values(command, "--cluster") == [cluster.name]
    labels = ",".join(f"{k}={v}" for k, v in cluster.labels)
    assert flag_values(create, "--labels") == ([labels] if labels else [])
    tags = ",".join(cluster.network_tags)
    assert flag_values(create, "--tags") == ([tags] if tags else [])
    assert flag_values(create, "--machine-type") == [cluster.core_pool.machine_type]
