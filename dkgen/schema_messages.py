"""The schema's error wording: one JSON Schema error as positioned problems.

jsonschema says *what* failed (``type``, ``enum``, ``additionalProperties``,
...); this module says it the way a person fixes it: the key path, what was
written, what is allowed, and a hint (did you mean, write it without
quotes, YAML 1.2 booleans). One small function per kind of error, looked up
in :data:`_WORDING`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dkgen.errors import Origin, Problem
from dkgen.keypath import KeyPath, format_path
from dkgen.merge import Merged
from dkgen.records import dataclass
from dkgen.schema_index import range_text, suggest_key
from dkgen.secrets import REDACTED, credential_name, plaintext_secret_key, shown

if TYPE_CHECKING:
    from dkgen.schema_validator import ValidationError


def _describe(value: Any, name: object = None) -> str:
    """``value`` as a message names it; a value the secret rule refuses (by
    its shape, or under a credential's ``name``) is not repeated."""
    if shown(value, name=name if isinstance(name, str) else None) == REDACTED:
        return REDACTED
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return (
            f"the string {value!r}" if len(value) < 60 else f"a string of {len(value)} characters"
        )
    if isinstance(value, int | float):
        text = str(value)
        return f"the number {text}" if len(text) < 30 else f"a number of {len(text)} digits"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _named(text: str, name: object = None) -> str:
    """A string as a message quotes it; a long one by its length; a secret not at all."""
    if len(text) >= 60:
        return f"a string of {len(text)} characters"
    return shown(text, name=name if isinstance(name, str) else None)


def _key(f: _Failure) -> object:
    """The key whose value failed (its name may say it is a credential)."""
    return f.path[-1] if f.path else None


def _number(value: float) -> str:
    """The number as written, or named by its length: a 400-digit number is
    not for a one-line message."""
    text = str(value)
    return text if len(text) < 30 else _describe(value)


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}

_SUGGESTIONS_PER_MAPPING = 50

_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _allows_null(error: ValidationError) -> bool:
    expected: Any = error.validator_value
    return expected == "null" or (isinstance(expected, list) and "null" in expected)


@dataclass(frozen=True)
class _Failure:
    """One schema error with what every wording needs."""

    error: ValidationError
    merged: Merged
    path: KeyPath
    dotted: str
    origin: Origin
    schema: dict[str, Any]
    # jsonschema types these as "Any | Unset"; every error it yields has them set.
    value: Any
    expected: Any


def schema_problems(error: ValidationError, merged: Merged) -> list[Problem]:
    """The problems ``error`` means, worded for the person who fixes them."""
    path: KeyPath = tuple(error.absolute_path)
    failure = _Failure(
        error=error,
        merged=merged,
        path=path,
        dotted=format_path(path),
        origin=merged.origin(path),
        schema=error.schema if isinstance(error.schema, dict) else {},
        value=error.instance,
        expected=error.validator_value,
    )
    if "propertyNames" in error.schema_path:
        return _property_name(failure)
    wording = _WORDING.get(str(error.validator), _as_jsonschema_says)
    return wording(failure)


def _alternatives(f: _Failure) -> list[Problem]:
    # "X or null" alternatives: the message that helps is the non-null branch's.
    useful = [e for e in f.error.context or () if not (e.validator == "type" and _allows_null(e))]
    if not useful:
        return _as_jsonschema_says(f)
    deepest = max(len(e.absolute_path) for e in useful)
    return [
        p for e in useful if len(e.absolute_path) == deepest for p in schema_problems(e, f.merged)
    ]


def _unknown_keys(f: _Failure) -> list[Problem]:
    allowed = list(f.schema.get("properties", {}))
    problems = []
    for key in f.value:
        if key in allowed:
            continue
        child = (*f.path, key)
        if credential_name(key):
            problems.append(plaintext_secret_key(f.merged.data, f.merged.key_origin(child), child))
            continue
        # A did-you-mean costs a fuzzy search; past a few dozen unknown keys
        # in one mapping they are not typos, and 20,000 searches took seconds.
        few = len(problems) < _SUGGESTIONS_PER_MAPPING
        problems.append(
            Problem(
                f.merged.key_origin(child),
                format_path(child),
                "unknown setting",
                suggest_key(child, allowed) if few else "",
            )
        )
    return problems


def _property_name(f: _Failure) -> list[Problem]:
    child = (*f.path, f.value)
    shape = f.schema.get("x-shape", "a valid name")
    message = f"{_named(f.value)} is not {shape}"
    return [Problem(f.merged.key_origin(child), format_path(child), message)]


def _missing(f: _Failure) -> list[Problem]:
    where = _missing_origin(f.merged, f.path)
    return [
        Problem(where, format_path((*f.path, key)), "required setting is missing", hint)
        for key in f.expected
        if key not in f.value
        for hint in [_missing_hint(where, f.path, key)]
    ]


def _wrong_type(f: _Failure) -> list[Problem]:
    names = [f.expected] if isinstance(f.expected, str) else list(f.expected)
    wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    return [
        Problem(
            f.origin,
            f.dotted,
            f"expected {wanted}, got {_describe(f.value, _key(f))}",
            _type_hint(f, names),
        )
    ]


def _type_hint(f: _Failure, names: list[str]) -> str:
    value = f.value
    if "boolean" in names and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
        return f"YAML 1.2 reads {value!r} as a string, not a boolean; write true or false"
    if "boolean" in names and isinstance(value, str) and value.lower() in {"true", "false"}:
        return f"write {value.lower()} without quotes"
    if "object" in names and value is None:
        return "an empty section is `{}`; or remove the line"
    if isinstance(value, str) and names[0] in {"integer", "number"} and _numeric(value):
        return "write the number without quotes"
    if "integer" in names and isinstance(value, float) and value.is_integer():
        return _integer_hint(value)
    if names[0] == "string" and isinstance(value, bool | int | float):
        return _quote_hint(f.origin, f.dotted, value, f.schema.get("pattern"))
    return ""


def _integer_hint(value: float) -> str:
    # 3.0, 8786.0 and 1e3 are floats to YAML; the whole number is what was meant.
    text = str(int(value))
    return f"write {text}" if len(text) < 30 else "write a whole number without a decimal point"


def _not_allowed(f: _Failure) -> list[Problem]:
    allowed_values = ", ".join(str(v) for v in f.expected)
    message = f"{_describe(f.value, _key(f))} is not allowed (allowed: {allowed_values})"
    return [Problem(f.origin, f.dotted, message)]


def _out_of_range(f: _Failure) -> list[Problem]:
    message = f"{_number(f.value)} is out of range ({range_text(f.schema)})"
    return [Problem(f.origin, f.dotted, message)]


def _wrong_shape(f: _Failure) -> list[Problem]:
    if f.value == "" and f.schema.get("minLength", 0) > 0:
        return []  # the minLength problem says it: must not be empty
    shape = f.schema.get("x-shape", f"must match {f.expected}")
    return [Problem(f.origin, f.dotted, f"{_named(f.value, _key(f))} is not {shape}")]


def _too_short(f: _Failure) -> list[Problem]:
    message = f"must not be empty (at least {f.expected} characters)"
    return [Problem(f.origin, f.dotted, message)]


def _too_long(f: _Failure) -> list[Problem]:
    message = f"is {len(f.value)} characters long (at most {f.expected} allowed)"
    return [Problem(f.origin, f.dotted, message)]


def _as_jsonschema_says(f: _Failure) -> list[Problem]:
    return [Problem(f.origin, f.dotted, f.error.message)]


# The wording of each kind of schema error (jsonschema's validator name).
_WORDING: dict[str, Callable[[_Failure], list[Problem]]] = {
    "anyOf": _alternatives,
    "oneOf": _alternatives,
    "additionalProperties": _unknown_keys,
    "required": _missing,
    "type": _wrong_type,
    "enum": _not_allowed,
    "minimum": _out_of_range,
    "maximum": _out_of_range,
    "exclusiveMinimum": _out_of_range,
    "exclusiveMaximum": _out_of_range,
    "pattern": _wrong_shape,
    "minLength": _too_short,
    "maxLength": _too_long,
}


def _quote_hint(origin: Origin, dotted: str, value: bool | float, pattern: str | None) -> str:
    text = _describe(value).removeprefix("the number ")
    typed = origin.source.partition("=")[2] if origin.source.startswith("-s ") else ""
    if isinstance(value, float) and typed != text and _numeric(typed) and float(typed) == value:
        # `-s` keeps the text as typed: 1.30, which YAML read as the number 1.3.
        why = f" (unquoted, {typed} is the number {text})"
        return f"""quote it to make it a string: -s '{dotted}="{typed}"'{why}"""
    if isinstance(value, float) and pattern and re.search(pattern, f"{text}0"):
        # YAML reads `1.30` as the number 1.3: the zero is gone before
        # validation sees it. Where the setting's shape also takes the longer
        # spelling (Kubernetes 1.30), offer it first: it is the likelier one.
        why = f" (unquoted, {text}0 and {text} are both the number {text})"
        return f'quote it to make it a string: "{text}0" or "{text}"{why}'
    if origin.source.startswith("-s "):
        return f"""quote it to make it a string: -s '{dotted}="{text}"'"""
    return f'quote it to make it a string: "{text}"'


def _missing_origin(merged: Merged, path: KeyPath) -> Origin:
    """Where to report a missing key: the section in the user's last file (or
    the -s override) that set it, else the top of the user's last file; the
    shipped defaults are not the place."""
    user_files = [s for s in merged.sources if Origin(s).is_file]
    section = merged.keys.get(path)
    if section is not None and (section.is_file or section.source.startswith("-s ")):
        return section
    if user_files:
        return Origin(user_files[-1], 1, 1)
    return Origin("<command line>")


def _missing_hint(where: Origin, path: KeyPath, key: str) -> str:
    dotted = format_path((*path, key))
    if where.source.startswith("-s "):
        return f"add it: -s {dotted}=..."
    if dotted == "cluster.name":
        if where.is_file:
            return "name your cluster: add `cluster: {name: my-dask}` to your settings file"
        return "name your cluster: -s cluster.name=my-dask, or give a settings file"
    return f"add it to your settings file, e.g. `{dotted}: ...`"
