"""One Dask release and one Python minor on the scheduler, every worker group and Jupyter.

Dask pickles tasks in the client (the notebook) and unpickles them in the
workers, and the scheduler speaks one protocol with both: a client warns with
``VersionMismatchWarning`` when the releases differ, and tasks can fail on
different Python minors. The build reads each component's versions:

* the official images, ``ghcr.io/dask/dask`` and ``ghcr.io/dask/dask-notebook``
  (and the older ``daskdev/*``), from their tag ``<dask>-py<python>``;
* RAPIDS images (``rapidsai/base``, ``rapidsai/notebooks``, and NGC's
  ``nvcr.io/nvidia/rapidsai/*``), tagged ``<rapids>-cuda<cuda>-py<python>``,
  through ``data/rapids-dask.yaml``: which Dask each RAPIDS release pins, with
  its source; they have dask-cuda;
* any other image from ``images: {<image>: {dask, python, dask_cuda}}`` in
  the settings (a declaration also wins over what a tag says).

A component whose Dask release or Python minor differs from the scheduler's
is an **error**, at whichever of the two images the user set last
(:mod:`dkgen.rules.conflict`: a settings file's scheduler image, not the
``gpu`` overlay's group image), naming the other, with an image to use. A group with
``dask_cuda: true`` whose image has no dask-cuda (the official images have
none) is an **error**. An image whose versions cannot be read is a
**warning** naming the ``images`` entry that would declare them.

::

    gpu.yaml:14:12: error: worker_groups.gpu.image: worker group gpu's
      rapidsai/base:25.10-cuda12.9-py3.12 runs Dask 2025.9.1 (RAPIDS 25.10), but the
      scheduler's ghcr.io/dask/dask:2026.8.0-py3.12 runs Dask 2026.8.0
      other value: scheduler.image at dkgen:bases/default.yaml:51:10
      hint: run one Dask release and Python everywhere: set worker_groups.gpu.image ...

(one line each when printed).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from dkgen.errors import Problem, Severity
from dkgen.keypath import KeyPath, Locator, format_path
from dkgen.records import dataclass
from dkgen.resources import rapids_dask_path
from dkgen.rules.conflict import conflict, order
from dkgen.settings import Patch, Settings

_DIGEST = r"(?:@sha256:[0-9a-f]{64})?"
_OFFICIAL = re.compile(
    r"^(?P<name>(?:ghcr\.io/dask|(?:docker\.io/)?daskdev)/(?:dask|dask-notebook))"
    rf":(?P<dask>\d{{4}}\.\d{{1,2}}\.\d+)(?:-py(?P<python>3\.\d+))?{_DIGEST}$"
)
_RAPIDS = re.compile(
    r"^(?P<name>(?:(?:docker\.io/)?rapidsai|nvcr\.io/nvidia/rapidsai)/(?:base|notebooks))"
    rf":(?P<release>\d{{2}}\.\d{{2}})-cuda(?P<cuda>\d+(?:\.\d+)?)-py(?P<python>3\.\d+){_DIGEST}$"
)


@dataclass(frozen=True)
class ImageFacts:
    """What an image runs, and how dkgen knows it (for the message)."""

    dask: str
    python: str | None
    dask_cuda: bool
    source: str


@dataclass(frozen=True)
class _Component:
    label: str
    path: KeyPath
    image: str


@functools.cache
def rapids_dask() -> dict[str, str]:
    """RAPIDS release (``26.02``) -> the Dask release it pins, from the data table."""
    with rapids_dask_path().open(encoding="utf-8") as handle:
        table = yaml.safe_load(handle)["rapids"]
    return {str(release): str(dask) for release, dask in table.items()}


def image_facts(image: str, settings: Settings) -> ImageFacts | str:
    """The image's versions, or why they cannot be read."""
    declared = dict(settings.images).get(image)
    if declared is not None:
        return ImageFacts(declared.dask, declared.python, declared.dask_cuda, "declared in images")
    official = _OFFICIAL.match(image)
    if official:
        return ImageFacts(official["dask"], official["python"], False, "its tag")
    rapids = _RAPIDS.match(image)
    if rapids:
        release = rapids["release"]
        dask = rapids_dask().get(release)
        if dask is None:
            return f"RAPIDS {release} is not in dkgen's table (data/rapids-dask.yaml)"
        return ImageFacts(dask, rapids["python"], True, f"RAPIDS {release}")
    return "dkgen reads only the tags of the official Dask images and of RAPIDS images"


def _components(settings: Settings, where: Locator) -> list[_Component]:
    found = [
        _Component("the scheduler", where.path(None, "scheduler.image"), settings.scheduler.image)
    ]
    found += [
        _Component(f"worker group {group.name}", where.path(group.name, "image"), group.image)
        for group in settings.workers
    ]
    if settings.jupyter.enabled:
        found.append(
            _Component("Jupyter", where.path(None, "jupyter.image"), settings.jupyter.image)
        )
    # A group that inherits workers.image shares its position: report it once.
    unique: dict[KeyPath, _Component] = {}
    for component in found:
        unique.setdefault(component.path, component)
    return list(unique.values())


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    components = _components(settings, where)
    facts = {c.path: image_facts(c.image, settings) for c in components}
    known = [c for c in components if isinstance(facts[c.path], ImageFacts)]
    for component in components:
        reason = facts[component.path]
        if isinstance(reason, str):
            yield _problem(
                where,
                component,
                f"cannot tell which Dask release {component.image} runs: {reason}",
                f'declare it: images: {{"{component.image}": {{dask: <release>, '
                'python: "<3.x>", dask_cuda: <true|false>}}',
                severity="warning",
            )
    yield from _dask_cuda(settings, where, facts)
    if not known:
        return
    reference = known[0]  # the scheduler whenever its image is known
    ref = facts[reference.path]
    assert isinstance(ref, ImageFacts)
    for component in known[1:]:
        mine = facts[component.path]
        assert isinstance(mine, ImageFacts)
        if mine.dask != ref.dask:
            yield _between(
                where,
                component,
                reference,
                f"{component.label}'s {component.image} runs Dask {mine.dask} ({mine.source}), "
                f"but {reference.label}'s {reference.image} runs Dask {ref.dask}",
                _fix(where, component, mine, reference, ref),
            )
        elif mine.python and ref.python and mine.python != ref.python:
            yield _between(
                where,
                component,
                reference,
                f"{component.label}'s {component.image} runs Python {mine.python}, but "
                f"{reference.label}'s {reference.image} runs Python {ref.python}; tasks "
                "pickled on one minor may not load on the other",
                _fix(where, component, mine, reference, ref),
            )


def _between(
    where: Locator, component: _Component, reference: _Component, message: str, hint: str
) -> Problem:
    """At the image to change first (the one of the later, user-written
    layer: a settings file's scheduler image, not the gpu overlay's), naming the other."""
    return conflict(where, order(where, [component.path, reference.path]), message, hint)


def _fix(
    where: Locator,
    component: _Component,
    mine: ImageFacts,
    reference: _Component,
    ref: ImageFacts,
) -> str:
    """Both ways to agree, the image to change first first, each with an
    image of its family that would agree when dkgen knows one."""
    to_reference = (
        f"set {format_path(component.path)} to an image with Dask {ref.dask}"
        + (f" on Python {ref.python}" if ref.python else "")
        + _such_as(component.image, ref)
    )
    to_component = (
        f"set {format_path(reference.path)} to an image with Dask {mine.dask}"
        + (f" on Python {mine.python}" if mine.python else "")
        + _such_as(reference.image, mine)
    )
    first = order(where, [component.path, reference.path])[0]
    fixes = [to_reference, to_component]
    if first == reference.path:
        fixes.reverse()
    return f"run one Dask release and Python everywhere: {fixes[0]}, or {fixes[1]}"


def _such_as(image: str, want: ImageFacts) -> str:
    """`` (such as <image of the same family with want's versions>)``, or ""."""
    official = _OFFICIAL.match(image)
    rapids = _RAPIDS.match(image)
    if official and want.python:
        return f" (such as {official['name']}:{want.dask}-py{want.python})"
    if rapids and want.python:
        releases = [r for r, dask in rapids_dask().items() if dask == want.dask]
        if releases:
            return (
                f" (such as {rapids['name']}:{releases[-1]}-cuda{rapids['cuda']}-py{want.python})"
            )
    return ""


def _dask_cuda(
    settings: Settings, where: Locator, facts: dict[KeyPath, ImageFacts | str]
) -> Iterator[Problem]:
    for group in settings.workers:
        if not group.dask_cuda:
            continue
        image_path = where.path(group.name, "image")
        image_facts_ = facts.get(image_path)
        if isinstance(image_facts_, ImageFacts) and not image_facts_.dask_cuda:
            # At the group's own image when it names one, else at its dask_cuda:
            # an inherited image's line (workers.image, maybe in the defaults) is not
            # where this group went wrong.
            own_image = image_path[:2] == ("worker_groups", group.name)
            path = image_path if own_image else where.path(group.name, "dask_cuda")
            yield Problem(
                where.origin(path),
                format_path(path),
                f"worker group {group.name} has dask_cuda: true, but {group.image} has no "
                "dask-cuda, so `dask cuda worker` cannot start",
                "use an image with dask-cuda (a RAPIDS image such as "
                f"rapidsai/base:{max(rapids_dask())}-cuda12-py3.12), declare dask_cuda: true "
                "for this image "
                f"under images if it has it, or set worker_groups.{group.name}.dask_cuda: false",
            )


def _problem(
    where: Locator, component: _Component, message: str, hint: str, severity: Severity = "error"
) -> Problem:
    return Problem(
        where.origin(component.path),
        format_path(component.path),
        message,
        hint,
        severity,
    )


def patched_image_problems(
    settings: Settings,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    touched: Mapping[tuple[Any, ...], Patch],
) -> list[Problem]:
    """The one-version rule on the patched objects: a container image a patch
    set whose Dask release or Python differs from ``scheduler.image``'s (which
    :func:`check` held every component to), at the patch that set it.
    Images whose versions dkgen cannot read are left alone: the settings'
    own images are the ones the rule must read."""
    from dkgen.render.patches import identity  # noqa: PLC0415  # render imports the rules

    originals = {identity(obj): _images(obj) for obj in before}
    # The settings' scheduler image: check() held every component to it.
    reference = image_facts(settings.scheduler.image, settings)
    if not isinstance(reference, ImageFacts):
        return []
    problems = []
    for obj in after:
        patch = touched.get(identity(obj))
        if patch is None or obj.get("kind") != "Deployment":
            continue
        old = originals.get(identity(obj), {})
        for container, image in _images(obj).items():
            facts = image_facts(image, settings)
            if old.get(container) == image or not isinstance(facts, ImageFacts):
                continue
            differs = (
                f"Dask {facts.dask}, but scheduler.image runs Dask {reference.dask}"
                if facts.dask != reference.dask
                else f"Python {facts.python}, but scheduler.image runs Python {reference.python}"
                if facts.python and reference.python and facts.python != reference.python
                else None
            )
            if differs:
                problems.append(
                    Problem(
                        patch.origin,
                        patch.label,
                        f"Deployment/{identity(obj)[2]}: container {container} gets {image}, "
                        f"which runs {differs}",
                        "run one Dask release and Python everywhere: set the image in the "
                        "settings (scheduler.image, workers.image, jupyter.image), where the "
                        "version rule checks it, not with a patch",
                    )
                )
    return problems


def _images(obj: dict[str, Any]) -> dict[str, str]:
    """Container name -> image, of a pod template (read through any shape)."""
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod = template.get("spec") if isinstance(template, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    found = {}
    for container in containers if isinstance(containers, list) else []:
        if isinstance(container, dict) and isinstance(container.get("image"), str):
            found[str(container.get("name"))] = container["image"]
    return found
