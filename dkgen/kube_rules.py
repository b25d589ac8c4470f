"""What the Kubernetes API server refuses in an object, checked before it is written.

dkgen's own objects are right by construction; a user's patch can set
anything. :func:`check_patched_object` finds, in one patched object, what
``kubectl apply`` would be refused for and what no schema in dkgen says:
label keys and values, annotation keys, the selector's ``matchLabels``,
``replicas``, and a ConfigMap's 1 MiB data limit. The rules are Kubernetes'
own (apimachinery's validation of qualified names, label values and
ConfigMaps); each problem is a sentence naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from dkgen.secrets import shown

# Kubernetes' limit on a ConfigMap's data (keys and values, in bytes).
CONFIGMAP_MAX_BYTES = 1024 * 1024
# And on all annotations of one object together (keys and values).
ANNOTATIONS_MAX_BYTES = 256 * 1024

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
        for key, value in (obj.get(field) or {}).items():
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
            yield f"spec.replicas is {replicas!r}; it must be a whole number, 0 or more"
    selector = spec.get("selector")
    if isinstance(selector, dict) and "matchLabels" in selector:
        yield from _labels("spec.selector.matchLabels", selector["matchLabels"])
    if obj.get("kind") == "ConfigMap":
        size = configmap_bytes(obj)
        if size > CONFIGMAP_MAX_BYTES:
            yield (
                f"its data is {size} bytes; Kubernetes stores at most {CONFIGMAP_MAX_BYTES} "
                "bytes in a ConfigMap"
            )


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
