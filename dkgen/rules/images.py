"""Images: every image is pinned to a version.

An image without a tag, or tagged ``:latest``, deploys whatever the
registry holds that day; a version tag or a ``@sha256:`` digest makes every
rebuild deploy the same software. Checked for the scheduler, Jupyter and
every worker group.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.rules.worker_groups import groups, value_at
from dkgen.settings import Settings

# Reads through ``where`` only, which logs each read (dkgen.rules).
READS: tuple[KeyPath, ...] = ()


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    """The rule: every problem it finds, at the setting to change."""
    yield from _check_images(where)


_TAG = re.compile(r":[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def _check_images(where: Locator) -> Iterator[Problem]:
    paths: list[KeyPath] = [("scheduler", "image"), ("jupyter", "image")]
    paths += [group.path("image") for group in groups(where)]
    for path in dict.fromkeys(paths):
        image = value_at(where.data, path)
        name = image.split("@", 1)[0]
        tag = _TAG.search(name.rsplit("/", 1)[-1])
        if "@sha256:" in image:
            continue
        if tag is None or tag.group(0) == ":latest":
            yield Problem(
                where.origin(path),
                format_path(path),
                f"image {image!r} is not pinned to a version",
                "add a version tag such as :2026.8.0-py3.12 (or a @sha256: digest), "
                "so every rebuild deploys the same software",
            )
