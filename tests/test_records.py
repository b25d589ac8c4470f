"""dkgen.records behaves as the standard library's dataclasses for what dkgen uses.

Each case declares one class twice, once with :mod:`dataclasses` and once
with :mod:`dkgen.records`, and compares what people and code can observe:
the constructor's acceptance and refusals, defaults and factories, repr,
equality, hashing, ordering, frozenness, ``__post_init__``, ``replace`` and
``__match_args__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from dkgen import records


def both(body: Callable[[Any, Any], type[Any]]) -> tuple[type[Any], type[Any]]:
    """The class ``body`` makes, with the standard decorator and with dkgen's."""
    return body(dataclasses.dataclass, dataclasses.field), body(
        records.record, records.record_field
    )


def point(dataclass: Any, field: Any) -> type[Any]:
    @dataclass(frozen=True, order=True)
    class Point:
        """A point."""

        x: int
        y: int = 0
        tags: tuple[str, ...] = field(default_factory=tuple)
        label: str = field(default="p")
        kind: ClassVar[str] = "point"

        @property
        def total(self) -> int:
            return self.x + self.y

    return Point


def mutable(dataclass: Any, field: Any) -> type[Any]:
    @dataclass
    class Box:
        items: list[int] = field(default_factory=list)
        seen: int = 0

        def __post_init__(self) -> None:
            self.seen = len(self.items)

    return Box


def explicit_hash(dataclass: Any, field: Any) -> type[Any]:
    @dataclass(frozen=True)
    class Named:
        name: str
        value: int = 0

        def __hash__(self) -> int:
            return 7

    return Named


def test_points_behave_alike() -> None:
    std, rec = both(point)
    for cls in (std, rec):
        a, b = cls(1, 2), cls(x=1, y=2)
        assert a == b and hash(a) == hash(b) and a.total == 3
        assert a.tags == ()
        assert a.label == "p" and cls.label == "p" and cls.kind == "point"
        assert cls(1) < cls(2) and cls(1, 5) > cls(1, 4) and cls(1) <= cls(1)
        assert cls.__match_args__ == ("x", "y", "tags", "label")
        assert a != (1, 2, (), "p") and not hasattr(cls, "tags")
        copy = records.replace(a, y=5)
        assert (copy.x, copy.y, copy.label) == (1, 5, "p")
        match a:
            case cls(x, y):
                assert (x, y) == (1, 2)
    assert repr(std(1, 2)).split("(", 1)[1] == repr(rec(1, 2)).split("(", 1)[1]
    refused = [((), {}), ((1, 2, (), "p", 5), {}), ((1,), {"x": 2}), ((1,), {"z": 1})]
    for cls in (std, rec):
        for args, kwargs in refused:
            with pytest.raises(TypeError):
                cls(*args, **kwargs)
    for cls in (std, rec):
        with pytest.raises(AttributeError):
            cls(1).x = 2
        with pytest.raises(AttributeError):
            del cls(1).x
        with pytest.raises(TypeError):
            _ = cls(1) < 1


def test_mutable_records_run_post_init_and_are_unhashable() -> None:
    for cls in both(mutable):
        box = cls([1, 2])
        assert box.seen == 2
        assert box.items is not cls().items
        box.seen = 5
        assert box != cls([1, 2]) and cls.__hash__ is None
        box.seen = 2
        assert box == cls([1, 2])
        assert records.replace(box, items=[3]).seen == 1


def test_an_explicit_hash_is_kept() -> None:
    for cls in both(explicit_hash):
        assert hash(cls("a")) == 7 and cls("a") == cls("a", 0)


def test_unsupported_options_fail_when_defined() -> None:
    with pytest.raises(TypeError):

        @records.record
        class Late:
            a: int = 0
            b: int

    with pytest.raises(ValueError, match="mutable default"):

        @records.record
        class Shared:
            a: list[int] = []  # noqa: RUF012  # the mistake under test

    with pytest.raises(TypeError):
        records.record(slots=True)  # type: ignore[call-arg]  # not supported


def test_replace_hands_standard_dataclasses_to_the_standard_function() -> None:
    std, _ = both(point)
    assert records.replace(std(1), y=3) == std(1, 3)
    with pytest.raises(TypeError):
        records.replace(both(point)[1](1), z=3)


def test_every_dkgen_record_is_built_by_dkgen_records() -> None:
    """No dkgen module pays for the standard decorator on import (see
    benchmarks/README.md); the pod-side autoscaler runs without dkgen."""
    import importlib
    import pkgutil

    import dkgen

    for info in pkgutil.walk_packages(dkgen.__path__, "dkgen."):
        if info.name.startswith(("dkgen.pod", "dkgen.__main__")):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == info.name:
                assert not dataclasses.is_dataclass(value), (
                    f"{info.name}.{value.__name__}: import dataclass from dkgen.records"
                )


def test_a_record_made_often_behaves_the_same_with_its_compiled_initialiser() -> None:
    """After ``_COMPILE_AFTER`` calls a record's ``__init__`` is compiled from
    source, as dataclasses writes it; the behaviour stays the standard one."""
    for body in (point, mutable, explicit_hash):
        _, rec = both(body)
        before = rec.__init__
        for _ in range(records._COMPILE_AFTER):
            rec(1) if body is not mutable else rec([1])
        assert rec.__init__ is not before
    std, rec = both(point)
    for _ in range(records._COMPILE_AFTER):
        rec(0)
    for cls in (std, rec):
        a = cls(1, 2)
        assert a == cls(x=1, y=2) and a.tags == () and a.label == "p" and hash(a) == hash(cls(1, 2))
        for args, kwargs in [
            ((), {}),
            ((1, 2, (), "p", 5), {}),
            ((1,), {"x": 2}),
            ((1,), {"z": 1}),
        ]:
            with pytest.raises(TypeError):
                cls(*args, **kwargs)
        with pytest.raises(AttributeError):
            a.x = 3
    _, box = both(mutable)
    for _ in range(records._COMPILE_AFTER + 1):
        made = box([1, 2])
    assert made.seen == 2 and box().items is not box().items
