"""Dataclasses that cost nothing to define: ``dataclass``, ``field`` and ``replace``.

Every dkgen module declares its records with these names instead of the
standard library's. Type checkers see :mod:`dataclasses` itself (the
``TYPE_CHECKING`` branch below), so mypy checks fields, defaults,
``frozen`` and ``replace`` exactly as for a standard dataclass. At run time
the decorator builds the same methods without compiling any source:
Python 3.11's ``dataclasses`` compiles six small functions per class with
``exec``, about 0.5 ms a class, and a build defines some forty records, so
that alone was a fifth of a cold ``dkgen build`` (benchmarks/README.md).
Here ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and the ordering
methods are closures over the field names, made in microseconds.

The subset dkgen uses is supported, with the standard library's semantics:
fields from the class's annotations (``ClassVar`` skipped, a record base's
fields first), defaults and ``field(default=..., default_factory=...)``,
``frozen``, ``eq``, ``order``, ``__post_init__``, ``__match_args__``, and
the ``__hash__`` rule (frozen and eq: hashed by the fields; eq alone:
unhashable; a ``__hash__`` in the class body is kept). Anything else
(``slots``, ``kw_only``, ``InitVar``, other ``field`` options) raises
``TypeError`` when the class is defined, so it cannot silently differ.
``tests/test_records.py`` holds the two implementations equal.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

__all__ = ["FrozenInstanceError", "dataclass", "field", "replace"]

_MISSING: Any = object()
_FIELDS = "__record_fields__"


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record (as :mod:`dataclasses` raises)."""


class _Field:
    """What ``field(...)`` leaves in a class body until the decorator reads it."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any, default_factory: Any) -> None:
        self.default = default
        self.default_factory = default_factory


def record_field(*, default: Any = _MISSING, default_factory: Any = _MISSING) -> Any:
    """``dataclasses.field`` with its two options dkgen uses."""
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return _Field(default, default_factory)


def record(
    cls: type[Any] | None = None,
    /,
    *,
    frozen: bool = False,
    eq: bool = True,
    order: bool = False,
) -> Any:
    """``dataclasses.dataclass`` for the options above; see the module docstring."""

    def wrap(klass: type[Any]) -> type[Any]:
        return _process(klass, frozen=frozen, eq=eq, order=order)

    return wrap if cls is None else wrap(cls)


def replace_record(obj: Any, /, **changes: Any) -> Any:
    """``dataclasses.replace``: a copy of ``obj`` with ``changes``, made by its
    ``__init__`` (so ``__post_init__`` runs again). A standard dataclass is
    handed to the standard function."""
    names: tuple[str, ...] | None = getattr(type(obj), _FIELDS, None)
    if names is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)
    for name in changes:
        if name not in names:
            raise TypeError(f"{type(obj).__qualname__} has no field {name!r}")
    values = {name: changes[name] if name in changes else getattr(obj, name) for name in names}
    return type(obj)(**values)


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _process(cls: type[Any], *, frozen: bool, eq: bool, order: bool) -> type[Any]:
    if order and not eq:
        raise ValueError("eq must be true if order is true")
    fields, defaults, factories = _collect_fields(cls)
    own = cls.__dict__
    values = _values_getter(fields)
    # Like dataclasses: a method the class body defines is kept, except the
    # ones frozen and order need, which must not be overridden.
    methods: dict[str, Any] = {
        _FIELDS: fields,
        "__record_defaults__": (defaults, factories),
        "__init__": _make_init(cls, fields, defaults, factories, frozen=frozen),
        "__repr__": _make_repr(fields),
        "__match_args__": fields,
    }
    if eq:
        methods["__eq__"] = _make_compare(values, _equal)
        class_hash = own.get("__hash__", _MISSING)
        if class_hash is _MISSING or (class_hash is None and "__eq__" in own):
            # Frozen and eq: hashed by the fields; eq alone: unhashable.
            methods["__hash__"] = _make_hash(values) if frozen else None
    required: dict[str, Any] = {}
    if order:
        required |= {name: _make_compare(values, compare) for name, compare in _ORDER.items()}
    if frozen:
        required |= {"__setattr__": _frozen_setattr, "__delattr__": _frozen_delattr}
    for name in required:
        if name in own:
            raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
    for name, method in {**methods, **required}.items():
        if name not in own or name in (_FIELDS, "__record_defaults__", "__hash__"):
            setattr(cls, name, method)
    return cls


def _collect_fields(
    cls: type[Any],
) -> tuple[tuple[str, ...], dict[str, Any], dict[str, Callable[[], Any]]]:
    """The fields in ``__init__`` order (a record base's first), their default
    values and their default factories; the class attributes set as
    :mod:`dataclasses` leaves them."""
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    names: list[str] = []
    for base in reversed(cls.__mro__[1:]):
        for name in base.__dict__.get(_FIELDS, ()):
            if name not in names:
                names.append(name)
            base_defaults, base_factories = base.__dict__["__record_defaults__"]
            if name in base_defaults:
                defaults[name] = base_defaults[name]
            if name in base_factories:
                factories[name] = base_factories[name]
    # The class's own annotations (inspect.get_annotations would import inspect).
    own_annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in own_annotations.items():
        if _is_classvar(annotation):
            continue
        if isinstance(annotation, str) and annotation.startswith(("InitVar", "KW_ONLY")):
            raise TypeError(f"{cls.__qualname__}.{name}: dkgen.records has no {annotation}")
        if name not in names:
            names.append(name)
        defaults.pop(name, None)
        factories.pop(name, None)
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, _Field):
            if value.default_factory is not _MISSING:
                factories[name] = value.default_factory
                delattr(cls, name)
            elif value.default is not _MISSING:
                defaults[name] = value.default
                setattr(cls, name, value.default)
            else:
                delattr(cls, name)
        elif value is not _MISSING:
            if isinstance(value, (list, dict, set)):
                raise ValueError(f"mutable default for field {name}: use default_factory")
            defaults[name] = value
    seen_default = False
    for name in names:
        if name in defaults or name in factories:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
    return tuple(names), defaults, factories


def _values_getter(fields: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(fields) > 1:
        return attrgetter(*fields)
    if fields:
        (name,) = fields
        return lambda obj: (getattr(obj, name),)
    return lambda obj: ()


def _make_init(
    cls: type[Any],
    fields: tuple[str, ...],
    defaults: dict[str, Any],
    factories: dict[str, Callable[[], Any]],
    *,
    frozen: bool,
) -> Callable[..., None]:
    count = len(fields)
    assign = object.__setattr__ if frozen else setattr
    post_init = hasattr(cls, "__post_init__")
    calls = 0

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        if len(args) > count:
            raise TypeError(f"{cls.__qualname__}() takes {count} arguments, {len(args)} given")
        values = list(args)
        for name in fields[len(args) :]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in defaults:
                values.append(defaults[name])
            elif name in factories:
                values.append(factories[name]())
            else:
                raise TypeError(f"{cls.__qualname__}() missing required argument {name!r}")
        for name in kwargs:
            wrong = "multiple values for" if name in fields else "an unexpected keyword"
            raise TypeError(f"{cls.__qualname__}() got {wrong} argument {name!r}")
        return values

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807  # the method's name
        nonlocal calls
        calls += 1
        if calls == _COMPILE_AFTER and cls.__dict__.get("__init__") is __init__:
            compiled = _compiled_init(cls, fields, defaults, factories, frozen=frozen)
            cls.__init__ = compiled
        # Every field given, all by position or all by name: the common calls.
        if not kwargs and len(args) == count:
            values: Any = args
        elif not args and len(kwargs) == count and all(name in kwargs for name in fields):
            values = [kwargs[name] for name in fields]
        else:
            values = bind(args, kwargs)
        for name, value in zip(fields, values, strict=True):
            assign(self, name, value)
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


# A class made this many times (Origin, Problem: hundreds per cluster in a
# fleet) gets the initialiser dataclasses would compile, twice as fast per
# call; the few made once per build never pay for compiling it.
_COMPILE_AFTER = 64


def _compiled_init(
    cls: type[Any],
    fields: tuple[str, ...],
    defaults: dict[str, Any],
    factories: dict[str, Callable[[], Any]],
    *,
    frozen: bool,
) -> Callable[..., None]:
    """``__init__`` compiled from source, as :mod:`dataclasses` writes it."""
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    params, body = [], []
    for name in fields:
        if name in defaults:
            namespace[f"_d_{name}"] = defaults[name]
            params.append(f"{name}=_d_{name}")
        elif name in factories:
            namespace[f"_f_{name}"] = factories[name]
            params.append(f"{name}=_MISSING")
            body.append(f"    if {name} is _MISSING: {name} = _f_{name}()")
        else:
            params.append(name)
        body.append(f"    _set(self, {name!r}, {name})" if frozen else f"    self.{name} = {name}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # source built from field names only
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _make_repr(fields: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:  # noqa: N807  # the method's name
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in fields)
        return f"{type(self).__qualname__}({shown})"

    return __repr__


def _make_compare(
    values: Callable[[Any], tuple[Any, ...]], compare: Callable[[Any, Any], bool]
) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compare(values(self), values(other))
        return NotImplemented

    return method


def _equal(a: Any, b: Any) -> bool:
    return bool(a == b)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "__lt__": lambda a, b: bool(a < b),
    "__le__": lambda a, b: bool(a <= b),
    "__gt__": lambda a, b: bool(a > b),
    "__ge__": lambda a, b: bool(a >= b),
}


def _make_hash(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:  # noqa: N807  # the method's name
        return hash(values(self))

    return __hash__


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


if TYPE_CHECKING:
    from dataclasses import dataclass, field, replace
else:
    dataclass, field, replace = record, record_field, replace_record
