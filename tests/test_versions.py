"""One Dask version: the default images, the shipped YAML and the test pin agree.

tests/test_runtime.py proves the generated manifests against the
``distributed`` release the test extra pins in pyproject.toml; that proof
covers the images only if they run the same release. The version is read
from both sides here, never written into this file, so an upgrade that
misses a place fails with the place named. How to upgrade: README.md,
"Upgrading Dask".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO

DEFAULTS = REPO / "bases" / "default.yaml"
DEFAULT_IMAGE_KEYS = ("scheduler.image", "workers.image", "jupyter.image")
# The official images are tagged <dask release>-py<python minor>.
DASK_IMAGE = re.compile(
    r"^ghcr\.io/dask/(?P<name>dask|dask-notebook):(?P<release>[^-]+)-py(?P<python>\d+\.\d+)$"
)
SHIPPED_YAML = sorted([*(REPO / "overlays").glob("*.yaml"), *(REPO / "examples").glob("*.yaml")])


def pinned_release() -> str:
    """The ``distributed==X`` pin of the test extra."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["test"]]
    (distributed,) = [r for r in requirements if r.name == "distributed"]
    (specifier,) = distributed.specifier
    assert specifier.operator == "==", f"the test extra must pin distributed exactly: {distributed}"
    return specifier.version


def default_image(key: str) -> re.Match[str]:
    tree: Any = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    for part in key.split("."):
        tree = tree[part]
    match = DASK_IMAGE.match(tree)
    assert match, f"{DEFAULTS.name}: {key}: {tree!r} is not an official Dask image tag"
    return match


def strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for value in tree.values():
            yield from strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from strings(value)
    elif isinstance(tree, str):
        yield tree


@pytest.mark.parametrize("key", DEFAULT_IMAGE_KEYS)
def test_default_images_run_the_pinned_release(key: str) -> None:
    release = default_image(key)["release"]
    assert release == pinned_release(), (
        f"bases/default.yaml {key} runs Dask {release}, "
        f"pyproject.toml's test extra pins distributed=={pinned_release()}"
    )


def test_default_images_share_one_python() -> None:
    # The notebook pickles tasks that the workers unpickle: same Python minor.
    pythons = {key: default_image(key)["python"] for key in DEFAULT_IMAGE_KEYS}
    assert len(set(pythons.values())) == 1, pythons


@pytest.mark.parametrize("path", SHIPPED_YAML, ids=lambda p: p.relative_to(REPO).as_posix())
def test_shipped_settings_name_the_pinned_release(path: Path) -> None:
    images = [
        value
        for value in strings(yaml.safe_load(path.read_text(encoding="utf-8")))
        if value.startswith("ghcr.io/dask/")
    ]
    for image in images:
        match = DASK_IMAGE.match(image)
        assert match and match["release"] == pinned_release(), (
            f"{path.relative_to(REPO)}: {image} is not Dask {pinned_release()}"
        )


def test_installed_release_is_the_pin() -> None:
    """The runtime test runs what is installed; it must be what the images run.
    dask and distributed are released together under one version."""
    assert version("distributed") == pinned_release(), "reinstall the test extra"
    assert version("dask") == pinned_release(), "reinstall the test extra"
