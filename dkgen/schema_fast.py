"""The settings schema as a fast yes/no check; jsonschema words the problems.

Importing jsonschema (with referencing, attrs, rpds and the bundled
meta-schemas) takes longer than `kubectl kustomize` spends on a whole build,
and almost every build's settings are valid. :class:`SchemaValidator` first
runs a predicate compiled from the schema: plain closures for the keywords
our schema uses, with the semantics of jsonschema's Draft 2020-12 as
:data:`dkgen.schema_validator.SettingsValidator` narrows it (``integer``
accepts neither 3.0 nor ``true``; ``enum`` and ``uniqueItems`` tell ``true``
from ``1``; ``pattern`` is ``re.search``). Only when it says no, or when the
schema uses a keyword it does not know, is jsonschema imported, and its
errors are what validation reports, exactly as before.

So the predicate may be stricter than jsonschema (jsonschema then finds no
error, and the build goes on) but never more lenient: tests/test_fast_paths.py
compares the two over every golden case and generated settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dkgen.schema_validator import Draft202012Validator, ValidationError

Check = Callable[[Any], bool]

# Keywords that describe and never constrain.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default",
     "deprecated", "readOnly", "writeOnly"}
)  # fmt: skip


class UnsupportedKeywordError(Exception):
    """The schema uses a keyword this compiler does not implement."""


class SchemaValidator:
    """``iter_errors`` as jsonschema's, answered without jsonschema when the
    settings are valid."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        try:
            self.is_valid: Check | None = compile_schema(schema)
        except UnsupportedKeywordError:
            self.is_valid = None
        self._full: Draft202012Validator | None = None

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if self.is_valid is not None and self.is_valid(instance):
            return iter(())
        if self._full is None:
            from dkgen.schema_validator import SettingsValidator

            self._full = SettingsValidator(self.schema)
        return self._full.iter_errors(instance)


def compile_schema(root: Mapping[str, Any]) -> Check:
    """A predicate that is True only for instances valid against ``root``."""
    compiled: dict[str, Check] = {}

    def ref(pointer: str) -> Check:
        if not pointer.startswith("#/"):
            raise UnsupportedKeywordError(pointer)
        if pointer not in compiled:
            target: Any = root
            for part in pointer[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            # `follow` looks the check up when called: a placeholder while
            # building lets a definition that refers to itself compile.
            compiled[pointer] = _always
            compiled[pointer] = build(target)

        def follow(value: Any) -> bool:
            return compiled[pointer](value)

        return follow

    def build(schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise UnsupportedKeywordError(repr(schema))
        parts: list[Check] = []
        for keyword, argument in schema.items():
            if keyword in _ANNOTATIONS or keyword.startswith("x-"):
                continue
            if keyword in ("additionalProperties", "properties"):
                continue  # one check for both, below
            factory = _KEYWORDS.get(keyword)
            if factory is not None:
                parts.append(factory(argument))
            elif keyword == "$ref":
                parts.append(ref(argument))
            elif keyword == "items":
                parts.append(_items(build(argument)))
            elif keyword == "propertyNames":
                parts.append(_property_names(build(argument)))
            elif keyword == "anyOf":
                parts.append(_any_of([build(option) for option in argument]))
            elif keyword == "oneOf":  # Kubernetes' schemas (dkgen/kube_schema.py) use it
                parts.append(_one_of([build(option) for option in argument]))
            else:
                raise UnsupportedKeywordError(keyword)
        if "properties" in schema or "additionalProperties" in schema:
            if "patternProperties" in schema:
                raise UnsupportedKeywordError("patternProperties")
            properties = {name: build(sub) for name, sub in schema.get("properties", {}).items()}
            extra = schema.get("additionalProperties", True)
            parts.append(_properties(properties, None if extra is True else build(extra)))
        if len(parts) == 1:
            return parts[0]
        return lambda value: all(part(value) for part in parts)

    return build(root)


# ------------------------------------------------------------------ keywords


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    # Stricter than Draft 2020-12, as dkgen.schema_validator.SettingsValidator
    # is: 3.0 is not an integer (gcloud and Dask refuse it); true never is.
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
}


def _type(argument: str | list[str]) -> Check:
    names = [argument] if isinstance(argument, str) else list(argument)
    if any(name not in _TYPES for name in names):
        raise UnsupportedKeywordError(f"type {argument}")
    tests = [_TYPES[name] for name in names]
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: ``true`` is not ``1``, containers compared deeply."""
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    if isinstance(one, list | tuple) and isinstance(two, list | tuple):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(k in two and _equal(v, two[k]) for k, v in one.items())
    return bool(one == two)


def _enum(options: Sequence[Any]) -> Check:
    return lambda value: any(_equal(option, value) for option in options)


def _unique(flag: bool) -> Check:
    if not flag:
        return lambda value: True

    def unique(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        return not any(
            _equal(value[i], value[j]) for i in range(len(value)) for j in range(i + 1, len(value))
        )

    return unique


def _pattern(pattern: str) -> Check:
    # Compiled at its first string, not with the schema: a build meets only
    # the patterns of the keys its settings hold (benchmarks/README.md).
    compiled: list[re.Pattern[str]] = []

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        if not compiled:
            compiled.append(re.compile(pattern))
        return compiled[0].search(value) is not None

    return check


def _bound(compare: Callable[[Any, Any], bool], kind: Check, measure: Callable[[Any], Any]) -> Any:
    def factory(limit: Any) -> Check:
        return lambda value: not kind(value) or compare(measure(value), limit)

    return factory


def _same(value: Any) -> Any:
    return value


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _required(names: Sequence[str]) -> Check:
    return lambda value: not isinstance(value, dict) or all(name in value for name in names)


def _any_of(options: list[Check]) -> Check:
    return lambda value: any(option(value) for option in options)


def _one_of(options: list[Check]) -> Check:
    return lambda value: sum(1 for option in options if option(value)) == 1


def _items(item: Check) -> Check:
    return lambda value: not isinstance(value, list) or all(item(v) for v in value)


def _property_names(name: Check) -> Check:
    return lambda value: not isinstance(value, dict) or all(name(key) for key in value)


def _properties(properties: dict[str, Check], extra: Check | None) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            test = properties.get(key, extra)
            if test is not None and not test(item):
                return False
        return True

    return check


_KEYWORDS: dict[str, Callable[[Any], Check]] = {
    "type": _type,
    "enum": _enum,
    "const": lambda const: lambda value: _equal(const, value),
    "pattern": _pattern,
    "required": _required,
    "uniqueItems": _unique,
    "minimum": _bound(lambda a, b: a >= b, _is_number, _same),
    "maximum": _bound(lambda a, b: a <= b, _is_number, _same),
    "exclusiveMinimum": _bound(lambda a, b: a > b, _is_number, _same),
    "exclusiveMaximum": _bound(lambda a, b: a < b, _is_number, _same),
    "minLength": _bound(lambda a, b: a >= b, _is_str, len),
    "maxLength": _bound(lambda a, b: a <= b, _is_str, len),
    "minItems": _bound(lambda a, b: a >= b, _is_list, len),
    "maxItems": _bound(lambda a, b: a <= b, _is_list, len),
    "minProperties": _bound(lambda a, b: a >= b, _is_dict, len),
    "maxProperties": _bound(lambda a, b: a <= b, _is_dict, len),
}
