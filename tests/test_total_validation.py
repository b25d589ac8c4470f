"""Validation is total: one run reports every independent problem, and only validate reports.

A value the schema refuses silences only the checks that read it
(dkgen/repair.py); patches are applied dry during validation, so every
failing patch arrives in the same run and rendering never refuses one.
"""

from __future__ import annotations

import pytest

from dkgen.compiler import merge
from dkgen.errors import SettingsError
from dkgen.load import parse_layer
from dkgen.render import render_objects
from dkgen.validate import validate

SECRET_HINT = (
    "  hint: keep it in a Kubernetes Secret created at apply time (kubectl create secret "
    "generic NAME --from-file=KEY=/dev/stdin) and reference it by name with a patch: "
    'valueFrom: {secretKeyRef: {name: NAME, key: KEY}} (README "Secrets")'
)


def problems_of(text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        validate(merge([parse_layer(text, "s.yaml")]))
    return str(caught.value)


def test_four_mistakes_arrive_in_one_run() -> None:
    # Schema (unknown key), semantic (node counts), secret and capacity
    # problems once took three runs to see; they are independent, so one run
    # reports them all, sorted by position.
    text = (
        "cluster:\n"
        "  name: demo\n"
        "  machine_type: n1-standard-4\n"
        "  autoscaling: true\n"
        "  min_nodes: 5\n"
        "  max_nodes: 2\n"
        "  colour: blue\n"
        "workers:\n"
        "  memory_per_worker: 64Gi\n"
        "  env:\n"
        "    API_TOKEN: hunter2-real-value\n"
    )
    # First lines only: hints and other-value lines are indented.
    lines = [line for line in problems_of(text).splitlines() if not line.startswith("  ")]
    assert lines == [
        "s.yaml:5:14: error: cluster.min_nodes: min_nodes (5) is larger than max_nodes (2)",
        "s.yaml:7:3: error: cluster.colour: unknown setting",
        "s.yaml:9:22: error: workers.memory_per_worker: a worker asks for 64Gi of memory, but "
        "each n1-standard-4 node has 11868Mi for pods after GKE's reservations; it would never "
        "be scheduled",
        "s.yaml:11:16: error: workers.env.API_TOKEN: API_TOKEN names a credential; its value "
        "would be written into the output in plain text",
    ]


def test_a_refused_value_silences_only_the_checks_that_read_it() -> None:
    # max_nodes is refused by the schema: the node-count check, which reads
    # it, must not judge min_nodes against a default. The port check reads
    # other values and still reports.
    text = (
        "cluster:\n"
        "  name: demo\n"
        "  autoscaling: true\n"
        "  min_nodes: 5\n"
        "  max_nodes: many\n"
        "scheduler:\n"
        "  tcp_port: 8786\n"
        "  bokeh_port: 8786\n"
    )
    assert problems_of(text) == (
        "s.yaml:5:14: error: cluster.max_nodes: expected an integer, got the "
        "string 'many'\n"
        "s.yaml:8:15: error: scheduler.bokeh_port: the dashboard and the "
        "scheduler both use port 8786\n"
        "  other value: scheduler.tcp_port at s.yaml:7:13\n"
        "  hint: give scheduler.bokeh_port and scheduler.tcp_port different "
        "values"
    )


def test_a_refused_worker_group_value_silences_capacity() -> None:
    # The capacity rule reads every pool's machine and pods; judging the
    # group's pods against a default machine would report a problem the user
    # does not have.
    text = (
        "cluster: {name: demo}\n"
        "worker_groups:\n"
        "  big:\n"
        "    machine_type: 4\n"
        "    memory_per_worker: 64Gi\n"
    )
    assert problems_of(text) == (
        "s.yaml:4:19: error: worker_groups.big.machine_type: expected a string, got the "
        "number 4\n"
        '  hint: quote it to make it a string: "4"'
    )


PATCHES = (
    "cluster: {name: demo}\n"
    "patches:\n"
    "  - target: {kind: Deployment, name: nothing-here}\n"
    "    patch: [{op: add, path: /metadata/labels, value: {a: b}}]\n"
    "  - target: {kind: Deployment, name: jupyter}\n"
    "    patch: [{op: test, path: /spec/replicas, value: 3}]\n"
    "  - target: {kind: Deployment, name: jupyter}\n"
    "    patch: {metadata: {labels: {n: 2}}}\n"
    "  - target: {kind: Deployment, name: jupyter}\n"
    "    patch: [{op: replace, path: /metadata/name, value: other}]\n"
)


def test_validate_reports_every_patch_problem_without_rendering() -> None:
    # The validate stage alone (no render) applies the patches dry and
    # reports each failing one: no match, a failing operation, a non-string
    # label, and (found when the patch is parsed) a rename.
    assert problems_of(PATCHES) == (
        "s.yaml:3:5: error: patches[0]: matches no generated object "
        "(kind=Deployment, name=nothing-here)\n"
        "  hint: generated objects of that kind: dask-scheduler, dask-worker-default, jupyter\n"
        "s.yaml:5:5: error: patches[1]: Deployment/jupyter: operation 0 (test /spec/replicas): "
        "the value differs, so the test fails\n"
        "s.yaml:7:5: error: patches[2]: Deployment/jupyter: metadata.labels.n is not a string; "
        "Kubernetes labels and annotations map names to strings\n"
        "  hint: quote the value (YAML reads 2 or true as a number or boolean)\n"
        "s.yaml:10:13: error: patches[3].patch[0]: replace /metadata/name would rename the "
        "object or "
        "change its kind\n"
        "  hint: dkgen names output files after kind and name; change the settings instead"
    )


def test_patches_that_validate_render() -> None:
    # The dry run and the render apply the same patches to the same objects.
    text = (
        "cluster: {name: demo}\n"
        "patches:\n"
        "  - target: {kind: Deployment, name: jupyter}\n"
        "    patch: {metadata: {labels: {team: data}}}\n"
    )
    settings = validate(merge([parse_layer(text, "s.yaml")])).settings
    jupyter = [o for o in render_objects(settings) if o["metadata"]["name"] == "jupyter"]
    assert [o["metadata"]["labels"]["team"] for o in jupyter if o["kind"] == "Deployment"] == [
        "data"
    ]


def test_a_section_an_overlay_wiped_is_reported_not_crashed_on() -> None:
    # Found by fuzzing: an overlay's `cluster: ''` replaces the whole section,
    # a file's mapping then replaces that, and the merged section lacks every
    # key the file does not set. Each missing required key is a problem; the
    # repaired tree takes the optional ones from the defaults, so the rules
    # still run on typed settings instead of raising KeyError.
    layers = [
        parse_layer("cluster: ''\n", "o.yaml"),
        parse_layer("cluster: {name: demo}\n", "s.yaml"),
    ]
    with pytest.raises(SettingsError) as caught:
        validate(merge(layers))
    text = str(caught.value)
    assert "s.yaml:1:1: error: cluster.zone: required setting is missing" in text
    assert "Traceback" not in text
