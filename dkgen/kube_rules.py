"""What the Kubernetes API server refuses in an object, checked before it is written.

dkgen's own objects are right by construction; a user's patch can set
anything. :func:`check_patched_object` finds, in one patched object, what
``kubectl apply`` would be refused for and what no schema in dkgen says:
label keys and values, annotation keys, the selector's ``matchLabels``,
``replicas`` (0 to the int32 limit), a ConfigMap's 1 MiB data limit, what a
Deployment must have (a selector, containers), container names (DNS
labels), images (no whitespace), ports (1-65535), resource quantities (their
syntax; a PersistentVolumeClaim's storage above 0) and volume mounts (of a
volume the pod has). The rules are Kubernetes' own (apimachinery's
validation of qualified names, label values and quantities; the core API's
of pods, ConfigMaps and claims); each problem is a sentence naming the field.

The object's types come first (:mod:`dkgen.kube_schema`), but everything
here reads through ``_mapping`` and ``_items`` anyway: a rule never assumes
a shape a patch could change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from dkgen.secrets import shown

# Kubernetes' limit on a ConfigMap's data (keys and values, in bytes).
CONFIGMAP_MAX_BYTES = 1024 * 1024
# And on all annotations of one object together (keys and values).
ANNOTATIONS_MAX_BYTES = 256 * 1024

INT32_MAX = 2**31 - 1
MAX_PORT = 65535
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
_SPACE = re.compile(r"\s")

_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\Z"
)
_NAME_RULE = (
    "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
)


def qualified_name_problem(key: str) -> str | None:
    """Why ``key`` is not a label or annotation key (``[prefix/]name``), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "its prefix is not a DNS subdomain (lowercase, such as example.com/)"
    if not name or len(name) > 63 or not _NAME.match(name):
        return f"its name is not {_NAME_RULE}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value (empty is allowed), or None."""
    if value and (len(value) > 63 or not _NAME.match(value)):
        return f"{_NAME_RULE}, or empty"
    return None


def configmap_bytes(obj: dict[str, Any]) -> int:
    """The size Kubernetes limits: every key and value of ``data`` and
    ``binaryData``, in bytes (the API server sums them the same way)."""
    total = 0
    for field in ("data", "binaryData"):
        for key, value in _mapping(obj.get(field)).items():
            total += len(str(key).encode()) + len(str(value).encode())
    return total


def check_patched_object(obj: dict[str, Any]) -> list[str]:
    """Everything in ``obj`` the API server would refuse, one sentence each."""
    return list(_problems(obj))


def _problems(obj: dict[str, Any]) -> Iterator[str]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    template = spec.get("template")
    places: list[tuple[str, Any]] = [("metadata", obj.get("metadata"))]
    if isinstance(template, dict):
        places.append(("spec.template.metadata", template.get("metadata")))
    for where, metadata in places:
        if isinstance(metadata, dict):
            yield from _labels(f"{where}.labels", metadata.get("labels"))
            yield from _annotations(f"{where}.annotations", metadata.get("annotations"))
    if "replicas" in spec:
        replicas = spec["replicas"]
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            yield f"spec.replicas is {shown(replicas)}; it must be a whole number, 0 or more"
        elif replicas > INT32_MAX:
            yield f"spec.replicas is {replicas}; Kubernetes holds at most {INT32_MAX} (int32)"
    selector = spec.get("selector")
    if isinstance(selector, dict) and "matchLabels" in selector:
        yield from _labels("spec.selector.matchLabels", selector["matchLabels"])
    kind = obj.get("kind")
    if kind == "Deployment":
        if not isinstance(spec.get("selector"), dict):
            yield "spec.selector is missing; a Deployment must select its pods"
        if not _items(_mapping(_mapping(spec.get("template")).get("spec")).get("containers")):
            yield "spec.template.spec.containers is empty; a Deployment's pods need a container"
    if isinstance(template, dict):
        yield from _pod("spec.template.spec", _mapping(template.get("spec")))
    if kind == "PersistentVolumeClaim":
        where = "spec.resources.requests.storage"
        storage = _mapping(_mapping(spec.get("resources")).get("requests")).get("storage")
        reason = quantity_problem(storage)
        if reason:
            yield f"{where}: {reason}"
        elif storage is not None and quantity_value(storage) <= 0:
            yield f"{where} is {storage}; a claim must ask for more than 0"
    if kind == "Service":
        for index, port in enumerate(_items(spec.get("ports"))):
            yield from _port(f"spec.ports[{index}].port", _mapping(port).get("port"))
    if obj.get("kind") == "ConfigMap":
        size = configmap_bytes(obj)
        if size > CONFIGMAP_MAX_BYTES:
            yield (
                f"its data is {size} bytes; Kubernetes stores at most {CONFIGMAP_MAX_BYTES} "
                "bytes in a ConfigMap"
            )


def _pod(where: str, pod: dict[str, Any]) -> Iterator[str]:
    """A pod template's spec: containers, their images, ports, quantities
    and volume mounts."""
    volumes = {_mapping(v).get("name") for v in _items(pod.get("volumes"))}
    for field in ("initContainers", "containers"):
        for index, container in enumerate(map(_mapping, _items(pod.get(field)))):
            at = f"{where}.{field}[{index}]"
            name = container.get("name")
            if not isinstance(name, str) or not _DNS_LABEL.match(name):
                yield (
                    f"{at}.name: {shown(name)} is not a container name (a DNS label: at most 63 "
                    "lowercase letters, digits and '-', starting and ending with a letter or digit)"
                )
            image = container.get("image")
            if (
                not isinstance(image, str)
                or not image
                or image != image.strip()
                or _SPACE.search(image)
            ):
                yield f"{at}.image: {shown(image)} is not an image name (no spaces, not empty)"
            for number, port in enumerate(_items(container.get("ports"))):
                yield from _port(
                    f"{at}.ports[{number}].containerPort", _mapping(port).get("containerPort")
                )
            resources = _mapping(container.get("resources"))
            for bound in ("requests", "limits"):
                for resource, amount in _mapping(resources.get(bound)).items():
                    reason = quantity_problem(amount)
                    if reason:
                        yield f"{at}.resources.{bound}.{resource}: {reason}"
            for number, mount in enumerate(map(_mapping, _items(container.get("volumeMounts")))):
                if mount.get("name") not in volumes:
                    yield (
                        f"{at}.volumeMounts[{number}]: mounts the volume "
                        f"{shown(mount.get('name'))}, "
                        "which the pod does not have (a volume deleted while still mounted?)"
                    )


def _port(where: str, port: Any) -> Iterator[str]:
    if isinstance(port, int) and not isinstance(port, bool) and not 1 <= port <= MAX_PORT:
        yield f"{where} is {port}; a port is 1 to {MAX_PORT}"


# Kubernetes' quantity syntax (apimachinery resource.Quantity): a signed
# decimal number, optionally with an exponent or a binary or decimal suffix.
_QUANTITY = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(?:[eE][+-]?[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?\Z"
)
_FACTORS: dict[str, int | str] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": "1e-9", "u": "1e-6", "m": "1e-3", "k": 10**3,
    "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip
_SUFFIXES = {suffix: Decimal(factor) for suffix, factor in _FACTORS.items()}


def quantity_problem(value: Any) -> str | None:
    """Why ``value`` is not a Kubernetes quantity (``500m``, ``2Gi``, ``1e3``,
    a number), or None (None too for no value)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None
    if not isinstance(value, str) or not _QUANTITY.match(value):
        return f"{shown(value)} is not a quantity (such as 500m, 2Gi or 10)"
    return None


def quantity_value(value: str | float) -> Decimal:
    """A quantity's value (checked by :func:`quantity_problem` first)."""
    text = str(value)
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix) and not text.endswith(("e" + suffix, "E" + suffix)):
            return Decimal(text[: -len(suffix)]) * _SUFFIXES[suffix]
    return Decimal(text)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _labels(where: str, labels: Any) -> Iterator[str]:
    if labels is None:
        return
    if not isinstance(labels, dict):
        yield f"{where} is not a mapping"
        return
    for key, value in labels.items():
        problem = qualified_name_problem(str(key))
        if problem:
            yield f"{where}: {shown(str(key))} is not a label key: {problem}"
        if not isinstance(value, str):
            shown_value = shown(value, name=str(key))
            yield f"{where}.{key} is {shown_value}, not a string; label values are strings"
        elif reason := label_value_problem(value):
            yield f"{where}.{key}: {shown(value, name=str(key))} is not a label value ({reason})"


def _annotations(where: str, annotations: Any) -> Iterator[str]:
    if annotations is None:
        return
    if not isinstance(annotations, dict):
        yield f"{where} is not a mapping"
        return
    size = 0
    for key, value in annotations.items():
        problem = qualified_name_problem(str(key))
        if problem:
            yield f"{where}: {shown(str(key))} is not an annotation key: {problem}"
        if not isinstance(value, str):
            shown_value = shown(value, name=str(key))
            yield f"{where}.{key} is {shown_value}, not a string; annotation values are strings"
        size += len(str(key).encode()) + len(str(value).encode())
    if size > ANNOTATIONS_MAX_BYTES:
        yield f"{where} hold {size} bytes; Kubernetes allows {ANNOTATIONS_MAX_BYTES} per object"
