"""Apply the user's patches to the generated objects, as kustomize would.

dkgen applies patches itself, in the render stage, rather than writing them
into ``kustomization.yaml`` (docs/security.md says why): the reviewer sees
the patched objects in ``git diff``; a patch that matches nothing fails the
build with the patch's position; and every later step (the rollout hash, the
README, the scanners and schema checks run on the output) sees what will
really be applied. ``tests/test_patches.py`` runs the same patches through
``kubectl kustomize`` and requires identical results.

Strategic merge follows Kubernetes' patch strategy: maps merge key by key, a
null removes a field, lists of the kinds below merge element by element on
their merge key (containers by ``name``, ports by ``containerPort``, ...),
every other list is replaced; ``$patch: delete`` removes a map or a list
element (or a whole object), ``$patch: replace`` replaces instead of merging.
A merged list holds the patch's elements first, then the others, as
kustomize orders it. One leniency: a strategic-merge patch without a target
finds its object by kind and name; its namespace, if it has none, does not
matter (kustomize would require ``dask``: every generated object is there).
"""

from __future__ import annotations

import copy
from typing import Any

from dkgen import target_regex
from dkgen.errors import Problem, SettingsError
from dkgen.kube_rules import check_patched_object
from dkgen.limits import MAX_OBJECT_BYTES
from dkgen.patches import parse_selector
from dkgen.render.common import KubeObject
from dkgen.secrets import secret_problems
from dkgen.settings import Patch

# The patch strategy of the Kubernetes types dkgen generates, from the
# x-kubernetes-patch-merge-key / -strategy markers of the Kubernetes API:
# type -> field -> (type of the field's items or value, merge key). A list
# field with a merge key merges element by element; "" merges a list of
# scalars as a set; a list field that is absent here is replaced whole.
_POD_SPEC = "PodSpec"
_STRATEGY: dict[str, dict[str, tuple[str | None, str | None]]] = {
    "Object": {"metadata": ("ObjectMeta", None)},
    "ObjectMeta": {"ownerReferences": (None, "uid"), "finalizers": (None, "")},
    "Deployment": {"metadata": ("ObjectMeta", None), "spec": ("DeploymentSpec", None)},
    "DeploymentSpec": {"template": ("PodTemplateSpec", None)},
    "PodTemplateSpec": {"metadata": ("ObjectMeta", None), "spec": (_POD_SPEC, None)},
    _POD_SPEC: {
        "containers": ("Container", "name"),
        "initContainers": ("Container", "name"),
        "ephemeralContainers": ("Container", "name"),
        "volumes": (None, "name"),
        "imagePullSecrets": (None, "name"),
        "hostAliases": (None, "ip"),
        "topologySpreadConstraints": (None, "topologyKey"),
        "resourceClaims": (None, "name"),
        "schedulingGates": (None, "name"),
    },
    "Container": {
        "env": (None, "name"),
        "ports": (None, "containerPort"),
        "volumeMounts": (None, "mountPath"),
        "volumeDevices": (None, "devicePath"),
    },
    "Service": {"metadata": ("ObjectMeta", None), "spec": ("ServiceSpec", None)},
    "ServiceSpec": {"ports": (None, "port")},
    "ServiceAccount": {"metadata": ("ObjectMeta", None), "secrets": (None, "name")},
}

_DELETE = object()


class PatchError(Exception):
    """A patch that cannot be applied to an object it selected."""


def apply_patches(objects: list[KubeObject], patches: tuple[Patch, ...]) -> list[KubeObject]:
    """``objects`` with every patch applied in order.

    Validation has applied the same patches dry (:func:`patch_problems`), so
    a patch that fails here is dkgen's bug, not the user's.
    """
    result, problems = _apply_all(objects, patches)
    if problems:
        raise SettingsError(problems)  # unreachable after validate; kept as a guard
    return result


def patched_or_none(
    objects: list[KubeObject], patches: tuple[Patch, ...]
) -> list[KubeObject] | None:
    """``objects`` patched, or None where a patch fails (the dry run reports
    why). The patched objects' types are not checked here (the dry run does,
    once): callers read them through any shape (dkgen/rules/patch_safety.py)."""
    result, problems = _apply_all(objects, patches, check_types=False)
    return None if problems else result


def patch_problems(objects: list[KubeObject], patches: tuple[Patch, ...]) -> list[Problem]:
    """Every problem applying ``patches`` to ``objects`` meets, all at once.

    A patch that fails is left out and the next one applied to what came
    before it, so one run reports every failing patch.
    """
    return dry_run(objects, patches)[1]


def dry_run(
    objects: list[KubeObject], patches: tuple[Patch, ...]
) -> tuple[list[KubeObject], list[Problem], dict[tuple[Any, ...], Patch]]:
    """:func:`patch_problems`, with the patched objects and, for each object
    a patch changed (by :func:`identity`), the last patch that changed it."""
    touched: dict[tuple[Any, ...], Patch] = {}
    result, problems = _apply_all(objects, patches, secrets=True, touched=touched)
    return result, problems, touched


def identity(obj: KubeObject) -> tuple[Any, ...]:
    """apiVersion, kind, name and namespace: what a patch may not change."""
    return _identity(obj)


def _apply_all(
    objects: list[KubeObject],
    patches: tuple[Patch, ...],
    *,
    secrets: bool = False,
    touched: dict[tuple[Any, ...], Patch] | None = None,
    check_types: bool = True,
) -> tuple[list[KubeObject], list[Problem]]:
    if not patches:
        # The copy below keeps a patch's edits out of whatever the renderers'
        # objects share (module constants, settings); with no patch there are
        # no edits, and the deep copy was a tenth of a fleet cluster's render.
        return list(objects), []
    result: list[KubeObject] = copy.deepcopy(objects)
    problems: list[Problem] = []
    touched = {} if touched is None else touched  # the last patch that changed each object
    for patch in patches:
        selected = [index for index, obj in enumerate(result) if _selects(patch, obj)]
        if not selected:
            problems.append(_no_match(patch, result))
            continue
        patched_objects: list[KubeObject | None] = list(result)
        failed: list[Problem] = []
        for index in selected:
            patched, failed = _apply_checked(patch, result[index])
            if failed:
                break
            touched[_identity(result[index])] = patch
            patched_objects[index] = patched  # None: the patch deleted it
        if failed:
            problems.extend(failed)
            continue
        result = [obj for obj in patched_objects if obj is not None]
    problems += _oversized(result, touched)
    if check_types:
        problems += _refused_objects(result, touched)
    if secrets:  # once, in the dry run: render and the safety rule need not repeat it
        problems += _new_secrets(objects, result, touched)
    return result, problems


def _refused_objects(
    objects: list[KubeObject], touched: dict[tuple[Any, ...], Patch]
) -> list[Problem]:
    """What the API server would refuse in each patched object: its types (a
    patch can write `spec: null` or `containers: web`), then what no schema
    says. Once per run, after every patch (per patch, 200 patches on every
    object doubled a build's time), blamed on the last patch that changed the
    object; the patching itself reads any shape. Everything after validation
    reads only objects that pass this."""
    problems = []
    for obj in objects:
        patch = touched.get(_identity(obj))
        if patch is not None:
            problems += [
                Problem(patch.origin, patch.label, f"{_name(obj)}: {r}") for r in _refused(obj)
            ]
    return problems


def _oversized(objects: list[KubeObject], touched: dict[tuple[Any, ...], Patch]) -> list[Problem]:
    """Each patched object past MAX_OBJECT_BYTES, blamed on the last patch that
    changed it: many patches' text can add up (copies are stopped earlier, in
    _json6902). Once per run, after every patch."""
    problems = []
    for obj in objects:
        patch = touched.get(_identity(obj))
        if patch is not None and (size := data_bytes(obj)) > MAX_OBJECT_BYTES:
            message = f"{_name(obj)}: {_too_big(size, 'the patched object')}"
            problems.append(Problem(patch.origin, patch.label, message))
    return problems


def _new_secrets(
    before: list[KubeObject], after: list[KubeObject], touched: dict[tuple[Any, ...], Patch]
) -> list[Problem]:
    """Check the patched objects, not only the patches: a JSON 6902 patch can
    add an empty credential variable and set its value in a second
    operation, and each operation alone looks harmless. Once, after every
    patch, for the objects a patch changed (per patch, 200 patches took a
    second); a secret is blamed on the last patch that changed its object."""
    originals = {_identity(obj): obj for obj in before}
    problems = []
    for obj in after:
        identity = _identity(obj)
        patch = touched.get(identity)
        if patch is None or identity not in originals:
            continue
        had = {(p.path, p.message) for p in secret_problems(originals[identity], patch.origin)}
        problems += [
            Problem(patch.origin, patch.label, f"{_name(obj)}: {p.message}", p.hint)
            for p in secret_problems(obj, patch.origin)
            if (p.path, p.message) not in had
        ]
    return problems


def _apply_checked(patch: Patch, obj: KubeObject) -> tuple[KubeObject | None, list[Problem]]:
    """``obj`` patched, or the problems that stop it (the object as it was, untouched)."""
    before = _identity(obj)
    try:
        # _apply builds a new object (the strategic merge copies what it
        # changes, JSON 6902 works on a deep copy), so a failing patch leaves
        # ``obj`` as the next patches should see it.
        patched = _apply(patch, obj)
    except PatchError as err:
        return None, [Problem(patch.origin, patch.label, f"{_name(obj)}: {err}")]
    if patched is not None and _identity(patched) != before:
        return None, [
            Problem(
                patch.origin,
                patch.label,
                f"{_name(obj)}: the patch renames the object or changes its kind",
                "dkgen names output files after kind and name; change the settings instead",
            )
        ]
    wrong = _non_string_metadata(patched) if patched is not None else None
    if wrong:
        return None, [
            Problem(
                patch.origin,
                patch.label,
                f"{_name(obj)}: {wrong}; Kubernetes labels and annotations map names to strings",
                "quote the value (YAML reads 2 or true as a number or boolean)",
            )
        ]
    return patched, []


def _refused(patched: KubeObject) -> list[str]:
    """What the API server would refuse in a patched object: its kind's strict
    schema (dkgen/kube_schema.py, loaded only now: a build without patches
    never reads it), then what no schema says (dkgen/kube_rules.py)."""
    from dkgen.kube_schema import schema_problems  # noqa: PLC0415  # lazily: start-up time

    typed = schema_problems(patched)
    if typed:
        return [f"{problem} (the Kubernetes API server refuses it)" for problem in typed]
    return check_patched_object(patched)


def _non_string_metadata(obj: KubeObject) -> str | None:
    """What is wrong with the first labels or annotations (of the object or its
    pod template) that are not a mapping of strings: kubectl refuses such an
    object, so the build does. Other fields a patch sets are not checked here
    (dkgen carries no Kubernetes schemas); kubectl apply checks them."""
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    places = [("metadata", obj.get("metadata"))]
    if isinstance(template, dict):
        places.append(("spec.template.metadata", template.get("metadata")))
    for where, metadata in places:
        if not isinstance(metadata, dict):
            continue
        for field in ("labels", "annotations"):
            values = metadata.get(field)
            if values is not None and not isinstance(values, dict):
                return f"{where}.{field} is not a mapping"
            for key, value in (values or {}).items():
                if not isinstance(value, str):
                    return f"{where}.{field}.{key} is not a string"
    return None


# ------------------------------------------------------------------ selection


def _group_version(obj: KubeObject) -> tuple[str, str]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return group, version


def _name(obj: KubeObject) -> str:
    return f"{obj.get('kind')}/{_metadata(obj).get('name')}"


def _metadata(obj: KubeObject) -> dict[str, Any]:
    """The object's metadata, or nothing where a patch made it something else."""
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _identity(obj: KubeObject) -> tuple[Any, ...]:
    metadata = _metadata(obj)
    return (obj.get("apiVersion"), obj.get("kind"), metadata.get("name"), metadata.get("namespace"))


def _selects(patch: Patch, obj: KubeObject) -> bool:
    target = patch.selects
    group, version = _group_version(obj)
    metadata = _metadata(obj)
    fields = [
        (target.group, group),
        (target.version, version),
        (target.kind, obj.get("kind", "")),
        (target.name, metadata.get("name", "")),
        (target.namespace, metadata.get("namespace", "")),
    ]
    for pattern, value in fields:
        # kustomize anchors every selector field: `dask` does not match `dask-scheduler`.
        # target_regex, not re: Python's backtracking could stall on `(a|a)*b`.
        if pattern is not None and not target_regex.fullmatch(pattern, str(value)):
            return False
    for selector, found in (
        (target.label_selector, metadata.get("labels")),
        (target.annotation_selector, metadata.get("annotations")),
    ):
        values = found if isinstance(found, dict) else {}
        if selector is not None:
            requirements = parse_selector(selector) or ()
            if not all(requirement.matches(values) for requirement in requirements):
                return False
    return True


def _no_match(patch: Patch, objects: list[KubeObject]) -> Problem:
    target = patch.selects
    wanted = ", ".join(
        f"{field}={value}"
        for field, value in (
            ("kind", target.kind),
            ("name", target.name),
            ("group", target.group),
            ("version", target.version),
            ("namespace", target.namespace),
            ("labelSelector", target.label_selector),
            ("annotationSelector", target.annotation_selector),
        )
        if value is not None and not (patch.target is None and field in {"group", "version"})
    )
    if patch.target is None:
        wanted = f"{patch.body['kind']} {patch.body['metadata']['name']}"
    same_kind = [
        str(_metadata(obj).get("name"))
        for obj in objects
        if target.kind is None or target_regex.fullmatch(target.kind, str(obj.get("kind", "")))
    ]
    hint = (
        f"generated objects of that kind: {', '.join(same_kind)}"
        if same_kind and target.kind is not None
        else "generated kinds: " + ", ".join(sorted({str(obj.get("kind")) for obj in objects}))
    )
    return Problem(patch.origin, patch.label, f"matches no generated object ({wanted})", hint)


# ------------------------------------------------------------------ application


def _apply(patch: Patch, obj: KubeObject) -> KubeObject | None:
    if patch.kind == "json6902":
        return _json6902(obj, patch.body)
    body = {k: v for k, v in patch.body.items() if k not in {"apiVersion", "kind"}}
    if isinstance(body.get("metadata"), dict):
        # The patch's own name and namespace only select; they never rename.
        metadata = {k: v for k, v in body["metadata"].items() if k not in {"name", "namespace"}}
        body["metadata"] = metadata
    merged = _merge(obj, body, str(obj.get("kind")))
    if merged is _DELETE:
        return None
    result: KubeObject = merged
    return result


def _strategy(type_name: str | None, key: str) -> tuple[str | None, str | None]:
    fields = _STRATEGY.get(type_name or "", {})
    if key in fields:
        return fields[key]
    if key == "metadata":
        return "ObjectMeta", None
    return None, None


def _merge(original: Any, patch: Any, type_name: str | None) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace" or not isinstance(original, dict):
        return _strip(patch)
    out = dict(original)
    for key, value in patch.items():
        if key == "$patch":
            continue
        if value is None:
            out.pop(key, None)
            continue
        child_type, merge_key = _strategy(type_name, key)
        if isinstance(value, list):
            out[key] = _merge_list(out.get(key), value, child_type, merge_key)
        elif isinstance(value, dict):
            merged = _merge(out.get(key), value, child_type)
            if merged is _DELETE:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = value
    return out


def _merge_list(
    original: Any, patch: list[Any], item_type: str | None, merge_key: str | None
) -> list[Any]:
    replace = any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch)
    items = [
        item
        for item in patch
        if not (isinstance(item, dict) and "$patch" in item and len(item) == 1)
    ]
    if merge_key is None or replace or not isinstance(original, list):
        return [_strip(item) for item in items if not _deletes(item)]
    if merge_key == "":
        # Like keyed lists below: the patch's items first, then the rest.
        return [*items, *(item for item in original if item not in items)]
    for item in items:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"a list element has no `{merge_key}`, which this list merges on")
    # kustomize's order: the patch's elements first, in the patch's order (merged
    # into the original element with the same key, if any), then the original
    # elements the patch does not mention, in their order.
    patched_keys = [item[merge_key] for item in items]
    result = []
    for item in items:
        if _deletes(item):
            continue
        existing = next(
            (
                element
                for element in original
                if isinstance(element, dict) and element.get(merge_key) == item[merge_key]
            ),
            None,
        )
        result.append(_strip(item) if existing is None else _merge(existing, item, item_type))
    result += [
        copy.deepcopy(element)
        for element in original
        if not (isinstance(element, dict) and element.get(merge_key) in patched_keys)
    ]
    return result


def _deletes(item: Any) -> bool:
    return isinstance(item, dict) and item.get("$patch") == "delete"


def _strip(node: Any) -> Any:
    """A patch value without directives and without null fields (nothing to remove from)."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "$patch" and v is not None}
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


# ------------------------------------------------------------------ JSON 6902


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], op_text: str) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"{op_text}: path does not exist")
    return node


def _parent(doc: Any, path: str, op_text: str) -> tuple[Any, str]:
    parts = _pointer(path)
    if not parts:
        raise PatchError(f"{op_text}: cannot replace the whole object")
    parent = _walk(doc, parts[:-1], op_text)
    return parent, parts[-1]


def _get(doc: Any, path: str, op_text: str) -> Any:
    return _walk(doc, _pointer(path), op_text)


def _add(doc: Any, path: str, value: Any, op_text: str) -> None:
    parent, last = _parent(doc, path, op_text)
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), copy.deepcopy(value))
        else:
            raise PatchError(f"{op_text}: index {last} is past the end of the list")
    else:
        raise PatchError(f"{op_text}: the parent is not a mapping or a list")


def _remove(doc: Any, path: str, op_text: str) -> Any:
    parent, last = _parent(doc, path, op_text)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"{op_text}: path does not exist")


def data_bytes(node: Any, depth: int = 0) -> int:
    """The size of plain data about as the output writes it, in bytes: every
    string and key in UTF-8, a number's digits, and for every value its
    punctuation and its indentation at ``depth`` (block YAML indents each
    level, so a deep tree of small values is larger written than held)."""
    total = 0
    stack = [(node, depth)]
    while stack:
        item, level = stack.pop()
        total += 2 + 2 * level
        if isinstance(item, dict):
            for key, value in item.items():
                total += len(str(key).encode("utf-8", "surrogatepass"))
                stack.append((value, level + 1))
        elif isinstance(item, list):
            stack.extend((value, level + 1) for value in item)
        elif isinstance(item, str):
            total += len(item.encode("utf-8", "surrogatepass"))
        else:
            total += len(str(item))
    return total


def _replaced_bytes(doc: Any, path: str) -> int:
    """What an add at ``path`` replaces: a mapping's existing member; nothing
    in a list (an add inserts there) or where the path does not exist yet."""
    parts = _pointer(path)
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return 0
    if parts and isinstance(node, dict) and parts[-1] in node:
        return data_bytes(node[parts[-1]], len(parts))
    return 0


def _too_big(size: int, op_text: str) -> PatchError:
    return PatchError(
        f"{op_text}: the object would grow to more than {MAX_OBJECT_BYTES} bytes "
        f"({size} or more); the Kubernetes API server stores no object that large"
    )


def _json6902(obj: KubeObject, operations: list[dict[str, Any]]) -> KubeObject:
    doc = copy.deepcopy(obj)
    # Only `copy` and `move` can make an object grow faster than the patch's
    # own text (which the readers bound): from the first of them on, the
    # object's size is kept up to date operation by operation, and one that
    # would take it past the limit stops before it copies (twelve copies once
    # made 14 MB in 13 s). The whole object is checked once more after every
    # patch has applied (_oversized).
    size: int | None = None
    for number, operation in enumerate(operations):
        op, path = operation["op"], operation["path"]
        op_text = f"operation {number} ({op} {path})"
        if size is None and op in {"copy", "move"}:
            size = data_bytes(doc)
        if size is not None and op in {"add", "copy", "replace", "move"}:
            depth = len(_pointer(path))
            if op in {"copy", "move"}:
                value = _get(doc, operation["from"], op_text)
            else:
                value = operation["value"]
            grown = size + data_bytes(value, depth)
            if op == "replace":
                grown -= data_bytes(_get(doc, path, op_text), depth)
            else:  # add, copy and move replace a mapping's member that is there
                grown -= _replaced_bytes(doc, path)
            if op == "move":
                grown -= data_bytes(value, len(_pointer(operation["from"])))
            if grown > MAX_OBJECT_BYTES:
                raise _too_big(grown, op_text)
            size = grown
        if op == "add":
            _add(doc, path, operation["value"], op_text)
        elif op == "remove":
            removed = _remove(doc, path, op_text)
            if size is not None:
                size -= data_bytes(removed, len(_pointer(path)))
        elif op == "replace":
            _get(doc, path, op_text)
            parent, last = _parent(doc, path, op_text)
            parent[int(last) if isinstance(parent, list) else last] = copy.deepcopy(
                operation["value"]
            )
        elif op == "move":
            _add(doc, path, _remove(doc, operation["from"], op_text), op_text)
        elif op == "copy":
            _add(doc, path, _get(doc, operation["from"], op_text), op_text)
        elif _get(doc, path, op_text) != operation["value"]:  # test
            raise PatchError(f"{op_text}: the value differs, so the test fails")
    return doc
