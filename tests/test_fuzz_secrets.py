"""Property: a secret put in any place a string can go never reaches the output.

Generated: a secret (a value with a well-known credential's shape, or any
value under a name that says it holds a credential, numbers included), and a
place for it: every string setting of ``bases/default.yaml``, an
environment variable of the default or a named worker group, a key of
``dask_config`` at any depth, a cluster label (key or value), an annotation
or environment variable added by a strategic-merge or JSON 6902 patch (in
place or as text), and any of these as a ``-s`` value, alone or overridden
by a later ``-s``. The property: the build is refused, with no refusal
naming the value; or it succeeds and no generated file (the manifest with
its list of inputs included) holds the value.

The compile runs in-process without a disk: :func:`dkgen.compiler.compile_layers`
and the manifest text :mod:`dkgen.emit` would write.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dkgen.compiler import compile_layers
from dkgen.emit.plan import manifest_text
from dkgen.errors import DkgenError
from dkgen.load import default_layer, iter_leaves, parse_layer, parse_override, sections
from tests.fuzzing import CASES, examples

# Property-based: the inner loop skips them with -m 'not fuzz'; CI runs them.
pytestmark = pytest.mark.fuzz

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _run(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


# A distinct marker in every password, so a search for it means something.
_PASSWORD = _run(_ALNUM, 12).map(lambda s: "pw" + s)

SHAPED: st.SearchStrategy[tuple[str, str]] = st.one_of(
    # (the value to place, the part of it that must not reach the output)
    _run(_UPPER, 16).map(lambda s: ("AKIA" + s,) * 2),
    _run(_ALNUM, 36).map(lambda s: ("ghp_" + s,) * 2),
    _run(_ALNUM, 35).map(lambda s: ("AIza" + s,) * 2),
    _run(_ALNUM, 24).map(lambda s: ("glpat-" + s,) * 2),
    _PASSWORD.map(lambda p: (f"https://me:{p}@pypi.example.com/simple", p)),
    _PASSWORD.map(lambda p: (f"analyst:{p}@db.internal:5432/x", p)),
    _PASSWORD.map(lambda p: (f"Server=db;User Id=u;Password={p};", p)),
    _PASSWORD.map(lambda p: (f"db/x?user=u&pwd={p}", p)),
    _run(_ALNUM, 40).map(
        lambda s: (f"-----BEGIN RSA PRIVATE KEY-----{s}-----END RSA PRIVATE KEY-----", s)
    ),
)
CREDENTIAL_NAMES = st.sampled_from(
    [
        "DB_PASSWORD",
        "PGPASSWORD",
        "MYSQL_PWD",
        "DB_PASS",
        "APITOKEN",
        "api_token",
        "awsSecretAccessKey",
        "SIGNING_KEY",
        "client-secret",
        "GITHUB_TOKENS",
        "passphrase",
    ]
)
# Any value under a credential's name: text, or a number (password: 48151623).
NAMED_VALUE = st.one_of(
    _PASSWORD.map(lambda p: (p, p)),
    st.integers(10_000_000, 10**12).map(lambda n: (n, str(n))),
)

# Every string setting of the defaults (names, images, versions, ...).
STRING_SETTINGS = sorted(
    (path for path, value in iter_leaves(default_layer().data) if isinstance(value, str)),
    key=str,
)


def _nest(path: tuple[Any, ...], value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _patch(body: Any, *, as_text: bool, target: str = "dask-scheduler") -> dict[str, Any]:
    return {
        "target": {"kind": "Deployment", "name": target},
        "patch": json.dumps(body) if as_text else body,
    }


ENV = "/spec/template/spec/containers/0/env"


@st.composite
def placed(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, Any] | None, str]:
    """(settings tree, an override (path, value) or None, the secret to look for)."""
    by_name = draw(st.booleans())
    if by_name:
        name, (value, secret) = draw(CREDENTIAL_NAMES), draw(NAMED_VALUE)
    else:
        name = draw(st.sampled_from(["SETTING", "note", "x"]))
        value, secret = draw(SHAPED)
    as_text = draw(st.booleans())
    places: list[tuple[tuple[Any, ...], Any]] = [
        (("workers", "env", name), value),
        (("worker_groups", "gpu", "env", name), value),
        (("dask_config", *draw(st.lists(st.sampled_from("abc"), max_size=3)), name), value),
        (("cluster", "labels", name), value),
        (
            ("patches",),
            [
                _patch(
                    {"metadata": {"annotations": {name: str(value)}}},
                    as_text=as_text,
                    target=".*",
                )
            ],
        ),
        (
            ("patches",),
            [
                _patch(
                    [
                        {"op": "add", "path": ENV, "value": [{"name": name, "value": ""}]},
                        {"op": "replace", "path": ENV + "/0/value", "value": value},
                    ],
                    as_text=as_text,
                )
            ],
        ),
    ]
    if not by_name:  # a value's shape betrays it wherever it is, under any name
        places += [(("cluster", "labels", "team"), value)]
        places += [(path, value) for path in STRING_SETTINGS]
    path, placed_value = draw(st.sampled_from(places))
    tree: dict[str, Any] = {"cluster": {"name": "demo"}}
    if path[0] == "worker_groups":
        tree["worker_groups"] = {"gpu": {"count": 1}}
    how = draw(st.sampled_from(["file", "-s", "-s overridden"]))
    if how == "file" or path == ("patches",):
        merged = _nest(path, placed_value)
        section = next(iter(merged))
        if isinstance(merged[section], dict) and isinstance(tree.get(section), dict):
            tree[section] = {**tree[section], **merged[section]}
        else:
            tree.update(merged)
        return tree, None, secret
    dotted = ".".join(str(part) for part in path)
    return tree, (dotted, json.dumps(placed_value) if how == "-s" else placed_value), secret


def test_secret_anywhere_never_reaches_the_output() -> None:
    @settings(max_examples=examples(3))
    @given(placed())
    def case(drawn: tuple[dict[str, Any], tuple[str, Any] | None, str]) -> None:
        CASES["secrets anywhere"] += 1
        tree, override, secret = drawn
        texts = []
        if override is not None:
            dotted, value = override
            texts.append(f"{dotted}={value}")
            if not isinstance(value, str) or not value.startswith('"'):
                texts.append(f"{dotted}=")  # the secret given first, then overridden
        layer = parse_layer(json.dumps(tree), "s.yaml")
        try:
            overrides = [parse_override(text, sections()) for text in texts]
            build = compile_layers([layer], overrides)
        except DkgenError as err:
            for problem in err.problems:
                if "plain text" in problem.message:
                    assert secret not in problem.format(), problem.format()
            return
        written = {**build.files, ".dkgen-manifest.json": manifest_text(build.files, build.inputs)}
        for path, text in written.items():
            assert secret not in text, f"the secret reached {path}"

    case()
