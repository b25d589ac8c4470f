"""Property: each hostile-input class of issue 18 is refused at its position, whatever the instance.

The strategies (tests/fuzzing_hostile.py) generate the class, not only the
campaign's reproducer: every patterned name or value with a control
character or a trailing newline, in a file and as ``-s``; every integer
setting written as a whole-number float; ``%YAML`` directives of every
version, in a file, a ``-s`` value and a patch given as text. Each case is
built by tests/fuzzing.py's :func:`build_and_check` (exit 0 with a complete
output, or exit 2 with one positioned line per problem, never a traceback)
and must land on the outcome its class dictates.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen.cli import cli
from dkgen.limits import MAX_EXPANDED_BYTES, MAX_OBJECT_BYTES
from tests.fuzzing import CASES, Inputs, build_and_check, examples, workdir
from tests.fuzzing_hostile import (
    HostileValue,
    aliased_text,
    copy_amplification,
    integral_float,
    name_with_control_character,
    resource_groups,
    secret_of_new_shape,
    wrong_type_patch,
    yaml_directive,
    yaml_text_with,
)

pytestmark = pytest.mark.fuzz


def _refused(stderr: str, dotted: str) -> None:
    """At least one error names the setting (or a key inside it)."""
    assert re.search(rf": error: {re.escape(dotted)}", stderr), stderr


def test_names_with_control_characters_are_refused() -> None:
    @settings(max_examples=examples(4))
    @given(case=name_with_control_character(), as_override=st.booleans())
    def case(case: HostileValue, as_override: bool) -> None:
        CASES["names with control characters"] += 1
        dotted = ".".join(case.path)
        if as_override:
            inputs = Inputs(
                files={"s.yaml": "cluster: {name: demo}\n"},
                args=["s.yaml", "-s", case.override()],
                overrides=[case.override()],
            )
        else:
            # JSON escapes every control character: the value reaches the
            # schema, not the YAML reader's refusal of raw control characters.
            inputs = Inputs(files={"s.yaml": json.dumps(case.tree()) + "\n"}, args=["s.yaml"])
        with workdir():
            outcome = build_and_check(inputs)
        assert outcome.exit_code == 2, (case, outcome.stderr)
        _refused(outcome.stderr, dotted)

    case()


def test_integral_floats_are_not_integers() -> None:
    @settings(max_examples=examples(3))
    @given(case=integral_float(), as_override=st.booleans())
    def case(case: tuple[tuple[str, ...], str, int], as_override: bool) -> None:
        CASES["whole-number floats at integer settings"] += 1
        path, written, number = case
        dotted = ".".join(path)
        if as_override:
            override = f"{dotted}={written}"
            inputs = Inputs(
                files={"s.yaml": "cluster: {name: demo}\n"},
                args=["s.yaml", "-s", override],
                overrides=[override],
            )
        else:
            inputs = Inputs(files={"s.yaml": yaml_text_with(path, written)}, args=["s.yaml"])
        with workdir():
            outcome = build_and_check(inputs)
        assert outcome.exit_code == 2, (case, outcome.stderr)
        assert f": error: {dotted}: expected an integer, got the number {float(number)}\n" in (
            outcome.stderr
        )
        assert f"  hint: write {number}\n" in outcome.stderr

    case()


def _directive_inputs(line: str, where: str) -> Inputs:
    if where == "file":
        text = f"{line}\n---\ncluster: {{name: demo}}\nworkers: {{env: {{SWITCH: on}}}}\n"
        return Inputs(files={"s.yaml": text}, args=["s.yaml"])
    if where == "override":
        override = f"workers.env.SWITCH={line}\n--- on"
        return Inputs(
            files={"s.yaml": "cluster: {name: demo}\n"},
            args=["s.yaml", "-s", override],
            overrides=[override],
        )
    patch = f"{line}\n---\nmetadata: {{labels: {{switch: on}}}}"
    tree: dict[str, Any] = {
        "cluster": {"name": "demo"},
        "patches": [{"target": {"kind": "Deployment", "name": "jupyter"}, "patch": patch}],
    }
    return Inputs(files={"s.yaml": json.dumps(tree) + "\n"}, args=["s.yaml"])


def test_yaml_directives_other_than_1_2_are_refused() -> None:
    @settings(max_examples=examples(3))
    @given(directive=yaml_directive(), where=st.sampled_from(["file", "override", "patch"]))
    def case(directive: tuple[str, bool], where: str) -> None:
        CASES["%YAML directives"] += 1
        line, readable = directive
        with workdir():
            outcome = build_and_check(_directive_inputs(line, where))
        if readable:
            # YAML 1.2 throughout: `on` stays the string "on".
            assert outcome.exit_code == 0, (line, where, outcome.stderr)
        else:
            assert outcome.exit_code == 2, (line, where, outcome.stderr)
            assert "dkgen reads YAML 1.2" in outcome.stderr, (line, where, outcome.stderr)

    case()


def test_an_adaptive_group_that_never_receives_work_is_named() -> None:
    """Issue 23, class 5: the build warns about a group exactly when the
    scheduler's routing (dkgen_autoscaler.home) would send the group's own
    work to another group."""
    from types import SimpleNamespace

    from dkgen.pod.dkgen_autoscaler import Group, home

    @settings(max_examples=examples(0.5))
    @given(groups=resource_groups())
    def case(groups: tuple[dict[str, float], dict[str, dict[str, float]]]) -> None:
        CASES["adaptive groups shadowed by another"] += 1
        default, named = groups
        tree = {
            "cluster": {"name": "demo", "project": "demo-project", "autoscaling": True},
            "workers": {"resources": default},
            "worker_groups": {
                name: {"resources": res, "adaptive": {"min": 0, "max": 2}}
                for name, res in named.items()
            },
        }
        order = [Group("default", default, 1, 1)]
        order += [Group(name, named[name], 1, 1) for name in sorted(named)]
        with workdir():
            outcome = build_and_check(Inputs(files={"s.yaml": json.dumps(tree)}, args=["s.yaml"]))
        assert outcome.exit_code == 0, outcome.stderr
        for name, res in named.items():
            # The group's own demand: a task asking for exactly what it declares.
            task: Any = SimpleNamespace(resource_restrictions=res)
            warned = f"worker_groups.{name}.resources: the " in outcome.stderr
            assert warned == (home(task, order) != name), (groups, outcome.stderr)

    case()


def test_patches_cannot_amplify_an_object_past_the_limit() -> None:
    """Issue 23, class 2: JSON 6902 copies are refused at the operation that
    would take the object past MAX_OBJECT_BYTES; below it they build."""

    @settings(max_examples=examples(0.3))
    @given(operations=copy_amplification())
    def case(operations: list[dict[str, Any]]) -> None:
        CASES["JSON 6902 copies that amplify"] += 1
        tree = {
            "cluster": {"name": "demo"},
            "patches": [
                {"target": {"kind": "Deployment", "name": "dask-scheduler"}, "patch": operations}
            ],
        }
        with workdir():
            outcome = build_and_check(
                Inputs(files={"s.yaml": json.dumps(tree)}, args=["s.yaml"]), strict=False
            )
            if outcome.exit_code == 0:
                size = (outcome.out / "deployment-dask-scheduler.yaml").stat().st_size
                assert size < 2 * MAX_OBJECT_BYTES, size
        if outcome.exit_code == 2:
            # Stopped while copying, or (small enough to finish) refused as
            # an object the API server would not take: `x` is no field of a pod.
            assert (
                f"would grow to more than {MAX_OBJECT_BYTES} bytes" in outcome.stderr
                or "(the Kubernetes API server refuses it)" in outcome.stderr
            ), outcome.stderr
        # A copy of what holds x into x doubles the object: 14 of them pass 1.5 MiB.
        doubling = {"/spec", "/spec/template", "/spec/template/spec"}
        if sum(operation.get("from") in doubling for operation in operations) > 14:
            assert "would grow to more than" in outcome.stderr, outcome.stderr

    case()


def test_aliases_cannot_expand_text_past_the_limit() -> None:
    """Issue 23, class 2: a string repeated by aliases is refused, while it is
    expanded, once the text passes MAX_EXPANDED_BYTES, in a file and in a patch."""

    @settings(max_examples=examples(0.3))
    @given(case=aliased_text())
    def case(case: tuple[str, int, int]) -> None:
        CASES["aliases of a long string"] += 1
        text, length, count = case
        with workdir():
            outcome = build_and_check(Inputs(files={"s.yaml": text}, args=["s.yaml"]), strict=False)
        refused = "bytes of text after expanding YAML aliases" in outcome.stderr
        if length * (count + 1) > MAX_EXPANDED_BYTES:
            assert refused, outcome.stderr
        elif length * (count + 1) + 1000 < MAX_EXPANDED_BYTES:
            assert not refused, outcome.stderr

    case()


def _secret_inputs(value: str, place: str) -> Inputs:
    """``value`` where the third campaign found a secret written or echoed."""
    if place == "env":
        tree: dict[str, Any] = {"cluster": {"name": "demo"}, "workers": {"env": {"X": value}}}
        return Inputs(files={"s.yaml": json.dumps(tree)}, args=["s.yaml"])
    if place == "label":  # an invalid label value
        tree = {
            "cluster": {"name": "demo"},
            "patches": [
                {
                    "target": {"kind": "Deployment", "name": "jupyter"},
                    "patch": {"metadata": {"labels": {"team": value}}},
                }
            ],
        }
        return Inputs(files={"s.yaml": json.dumps(tree)}, args=["s.yaml"])
    override = {
        "number": f"workers.count={value}",  # a URL given to a number setting
        "malformed": f"workers.env.X {value}",  # no `=`
        "credential-name": f"workers.env.API_TOKEN:{value}",
    }[place]
    return Inputs(
        files={"s.yaml": "cluster: {name: demo}\n"},
        args=["s.yaml", "-s", override],
        overrides=[override],
    )


def test_no_secret_is_written_or_echoed() -> None:
    """Issue 23, class 3: every new credential shape is refused wherever it
    stands, and no message repeats it."""

    @settings(max_examples=examples(0.5))
    @given(
        secret=secret_of_new_shape(),
        place=st.sampled_from(["env", "label", "number", "malformed", "credential-name"]),
    )
    def case(secret: tuple[str, str], place: str) -> None:
        CASES["secrets of new shapes"] += 1
        value, credential = secret
        with workdir():
            outcome = build_and_check(_secret_inputs(value, place), strict=False)
        assert outcome.exit_code == 2, (value, place, outcome.stderr)
        assert credential not in outcome.stderr, (value, place, outcome.stderr)

    case()


def test_rebuilds_keep_directory_modes_and_refuse_impossible_manifest_names() -> None:
    """Issue 23, class 4: whatever modes a user gives the output directory
    and its subdirectories, a rebuild keeps them; a manifest entry no file
    system could hold is refused by name, never a traceback."""
    from dkgen.emit import MANIFEST

    modes = st.sampled_from([0o700, 0o750, 0o755, 0o711, 0o770, 0o2750])

    @settings(max_examples=examples(0.2))
    @given(
        own=modes,
        sub=st.lists(modes, min_size=0, max_size=3),
        long_name=st.integers(200, 600),
    )
    def case(own: int, sub: list[int], long_name: int) -> None:
        CASES["directory modes and manifest names"] += 1
        with workdir() as here:
            first = Inputs(files={"s.yaml": "cluster: {name: demo}\n"}, args=["s.yaml"])
            assert build_and_check(first).exit_code == 0
            wanted = {here / "out": own}
            directory = here / "out"
            for depth, mode in enumerate(sub):
                directory = directory / f"d{depth}"
                directory.mkdir()
                (directory / "keep.txt").write_text("mine\n")
                wanted[directory] = mode
            for path, mode in sorted(wanted.items(), key=lambda item: -len(item[0].parts)):
                path.chmod(mode)
            again = Inputs(
                files={"s.yaml": "cluster: {name: demo}\nworkers: {count: 2}\n"}, args=["s.yaml"]
            )
            result = CliRunner().invoke(cli, ["build", *again.args, "-o", "out"])
            assert result.exit_code == 0, result.stderr
            assert {p: p.stat().st_mode & 0o7777 for p in wanted} == wanted
            manifest = here / "out" / MANIFEST
            body = json.loads(manifest.read_text())
            body["files"]["n" * long_name] = "0" * 64
            manifest.write_text(json.dumps(body))
            for command in ("build", "check"):
                result = CliRunner().invoke(cli, [command, "s.yaml", "-o", "out"])
                assert result.exception is None or isinstance(result.exception, SystemExit)
                refused = f"{manifest}: error: the dkgen manifest names" in result.stderr
                assert (result.exit_code == 2 and refused) == (long_name > 255), result.stderr

    case()


def test_patches_that_break_the_typed_world_are_refused_or_valid() -> None:
    """Issue 23, class 1: a patch giving a field of a generated object the
    wrong type or an out-of-range value ends in a positioned problem, never
    a traceback; what builds passes Kubernetes' strict schemas
    (build_and_check validates it with kubernetes-validate)."""

    @settings(max_examples=examples(0.5))
    @given(patches=st.lists(wrong_type_patch(), min_size=1, max_size=3))
    def case(patches: list[dict[str, Any]]) -> None:
        CASES["patches of the wrong type"] += 1
        tree = {
            "cluster": {"name": "demo", "project": "demo-project"},
            "dask_config": {"distributed": {"scheduler": {"work-stealing": False}}},
            "patches": patches,
        }
        with workdir():
            outcome = build_and_check(Inputs(files={"s.yaml": json.dumps(tree)}, args=["s.yaml"]))
        if outcome.exit_code == 2:
            assert "s.yaml:" in outcome.stderr, outcome.stderr

    case()
