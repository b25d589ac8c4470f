"""Rollouts follow configuration: the pods' ConfigMap hash moves with the ConfigMap.

A changed ``dask_config`` must change every pod template that mounts it (so
Kubernetes replaces those pods) and nothing else in them; the same
configuration must give the same hash however it was written.
"""

from __future__ import annotations

from typing import Any

import yaml

from dkgen.compiler import compile_layers
from dkgen.load import parse_layer
from dkgen.render.rollout import CONFIG_HASH_ANNOTATION

DEPLOYMENTS = [
    "deployment-dask-scheduler.yaml",
    "deployment-dask-worker-default.yaml",
    "deployment-jupyter.yaml",
]


def build(settings: str) -> dict[str, str]:
    return compile_layers([parse_layer("cluster: {name: demo}\n" + settings, "s.yaml")]).files


def template_annotations(files: dict[str, str], name: str) -> dict[str, Any]:
    doc = yaml.safe_load(files[name])
    annotations: dict[str, Any] = doc["spec"]["template"]["metadata"].get("annotations", {})
    return annotations


def without_hash(text: str) -> Any:
    doc = yaml.safe_load(text)
    doc["spec"]["template"]["metadata"].get("annotations", {}).pop(CONFIG_HASH_ANNOTATION, None)
    return doc


def test_changing_the_config_changes_the_hash_of_every_pod_that_reads_it() -> None:
    before = build("dask_config: {distributed: {comm: {timeouts: {connect: 30s}}}}\n")
    after = build("dask_config: {distributed: {comm: {timeouts: {connect: 60s}}}}\n")
    assert before["configmap-dask-config.yaml"] != after["configmap-dask-config.yaml"]
    for name in DEPLOYMENTS:
        old = template_annotations(before, name)[CONFIG_HASH_ANNOTATION]
        new = template_annotations(after, name)[CONFIG_HASH_ANNOTATION]
        assert len(old) == 64 and old != new, name
        # Only the hash differs: the pods roll because of the config, nothing else.
        assert without_hash(before[name]) == without_hash(after[name])


def test_same_config_written_differently_gives_the_same_hash() -> None:
    one = build("dask_config: {distributed: {a: 1, b: {c: 2}}}\n")
    other = build("dask_config:\n  distributed:\n    b: {c: 2}\n    a: 1\n")
    assert one == other


def test_a_patched_config_map_counts() -> None:
    config = "dask_config: {distributed: {a: 1}}\n"
    plain = build(config)
    patched = build(
        config + "patches:\n  - target: {kind: ConfigMap, name: dask-config}\n"
        "    patch: [{op: add, path: /data/extra.yaml, value: 'b: 2'}]\n"
    )
    assert "extra.yaml" in patched["configmap-dask-config.yaml"]
    for name in DEPLOYMENTS:
        assert template_annotations(plain, name) != template_annotations(patched, name)


def test_without_config_there_is_no_config_map_and_no_hash() -> None:
    files = build("")
    assert not any(name.startswith("configmap-") for name in files)
    for name in DEPLOYMENTS:
        assert CONFIG_HASH_ANNOTATION not in template_annotations(files, name)
        assert "DASK_CONFIG" not in files[name]


def test_secret_reference_change_changes_the_pod_template() -> None:
    """The token Secret's content is never seen; its name is in the template, so renaming rolls."""
    one = yaml.safe_load(build("")["deployment-jupyter.yaml"])["spec"]["template"]
    two = yaml.safe_load(build("jupyter: {token_secret: other-token}\n")["deployment-jupyter.yaml"])
    assert one != two["spec"]["template"]
