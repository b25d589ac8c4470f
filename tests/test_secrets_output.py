"""No secret value reaches the output: the holes an independent campaign found.

tests/test_secrets.py tries each way of handing dkgen a secret that the first
release knew; this file holds the ones found later (issue 18, class 6): a
worker group's ``env``, numbers in ``dask_config``, a JSON 6902 patch that
sets a credential in two harmless-looking steps, keys shaped like
credentials (an environment variable, a label that reaches ``cluster.sh``),
a ``-s`` value a later ``-s`` overrides (the command line is listed in the
output's README and manifest), names the first heuristic missed
(``PGPASSWORD``, ``MYSQL_PWD``, ``DB_PASS``, ``APITOKEN``) and connection
strings. Each must exit 2 without repeating the value and without touching
the output; after all of them, every file of every output is searched for
every value. The names that must *not* be taken for credentials
(``PASSWORD_FILE``, ``TOKEN_PATH``, ...) build, with their values written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dkgen.secrets import credential_name, secret_shape
from tests.conftest import read_tree
from tests.test_errors import write_inputs

NAME = "cluster:\n  name: demo\n"
GROUP = NAME + "worker_groups:\n  gpu:\n    env:\n"


def _json6902(*operations: str) -> str:
    return (
        NAME
        + "patches:\n  - target: {kind: Deployment, name: dask-scheduler}\n    patch:\n"
        + "".join(f"      - {op}\n" for op in operations)
    )


ENV = "/spec/template/spec/containers/0/env"

# (how, settings text, -s overrides, the secret value used)
REFUSED: list[tuple[str, str, list[str], str]] = [
    ("worker group env", GROUP + "      DB_PASSWORD: pw-1a1a-group\n", [], "pw-1a1a-group"),
    ("dask_config number", NAME + "dask_config:\n  password: 48151623\n", [], "48151623"),
    ("dask_config float", NAME + "dask_config:\n  api_token: 7734.5521\n", [], "7734.5521"),
    (
        "JSON 6902: an empty variable, then its value",
        _json6902(
            f"{{op: add, path: {ENV}, value: []}}",
            f'{{op: add, path: {ENV}/-, value: {{name: DB_PASSWORD, value: ""}}}}',
            f"{{op: replace, path: {ENV}/0/value, value: pw-2b2b-two-step}}",
        ),
        [],
        "pw-2b2b-two-step",
    ),
    (
        "JSON 6902 as text: an empty variable, then its value",
        NAME + "patches:\n  - target: {kind: Deployment, name: dask-scheduler}\n"
        "    patch: |\n"
        f"      - {{op: add, path: {ENV}, value: [{{name: API_TOKEN, value: ''}}]}}\n"
        f"      - {{op: replace, path: {ENV}/0/value, value: tok-3c3c-text}}\n",
        [],
        "tok-3c3c-text",
    ),
    (
        "JSON 6902: a credential name copied over an innocent one",
        _json6902(
            f"{{op: add, path: {ENV}, value: [{{name: SAFE, value: pw-4d4d-moved}}]}}",
            f"{{op: replace, path: {ENV}/0/name, value: SECRET_KEY}}",
        ),
        [],
        "pw-4d4d-moved",
    ),
    (
        "environment variable named like an access key",
        NAME + "workers:\n  env:\n    AKIAZ7Q3K9EXAMPLE0FX: x\n",
        [],
        "AKIAZ7Q3K9EXAMPLE0FX",
    ),
    (
        "label key shaped like a token (reaches cluster.sh)",
        NAME + "  labels:\n    ghp_0123456789abcdefghijklmnopqrstuvwxyz: team\n",
        [],
        "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    ),
    (
        "dask_config key that is a hex token",
        NAME + "dask_config:\n  9e107d9d372bb6826bd81d3542a419d6a1b2c3d4: 1\n",
        [],
        "9e107d9d372bb6826bd81d3542a419d6a1b2c3d4",
    ),
    (
        "-s credential overridden by a later -s",
        NAME,
        ["-s", "workers.env.DB_PASSWORD=pw-5e5e-overridden", "-s", "workers.env.DB_PASSWORD="],
        "pw-5e5e-overridden",
    ),
    (
        "-s credential shape overridden by a later -s",
        NAME,
        ["-s", "dask_config.x=AKIAZ7Q3K9EXAMPLE0FY", "-s", "dask_config.x=fine"],
        "AKIAZ7Q3K9EXAMPLE0FY",
    ),
    ("PGPASSWORD", GROUP + "      PGPASSWORD: pw-6f6f-pg\n", [], "pw-6f6f-pg"),
    ("MYSQL_PWD", NAME + "workers:\n  env:\n    MYSQL_PWD: pw-7a7a-my\n", [], "pw-7a7a-my"),
    ("DB_PASS", NAME + "workers:\n  env:\n    DB_PASS: pw-8b8b-db\n", [], "pw-8b8b-db"),
    ("APITOKEN", NAME + "workers:\n  env:\n    APITOKEN: tok-9c9c-api\n", [], "tok-9c9c-api"),
    (
        "connection string",
        NAME + "workers:\n  env:\n    DB: 'Server=db;User Id=u;Password=pw-0d0d-conn;'\n",
        [],
        "pw-0d0d-conn",
    ),
    (
        "login without a scheme",
        NAME + "dask_config:\n  db: 'analyst:pw-1e1e-login@db.internal:5432/x'\n",
        [],
        "pw-1e1e-login",
    ),
    (
        "password in a query string",
        NAME + "workers:\n  env:\n    DSN: 'db.internal/x?user=u&password=pw-2f2f-query'\n",
        [],
        "pw-2f2f-query",
    ),
    (
        "annotation in a patch named like a credential",
        NAME + "patches:\n  - target: {kind: Deployment, name: dask-scheduler}\n    patch:\n"
        "      metadata:\n        annotations:\n          vault-token: tok-3a3a-annotation\n",
        [],
        "tok-3a3a-annotation",
    ),
]

# Names that say where or what a credential is, and names that merely contain
# a credential word's letters: they build, and their values are written.
HARMLESS: dict[str, str] = {
    "PASSWORD_FILE": "pw.txt",
    "TOKEN_PATH": "var/token",
    "SECRET_NAME": "db-credentials",
    "AWS_ACCESS_KEY_ID_REF": "creds",
    "ACCESS_KEY_ID": "key-id-from-config",
    "TOKEN_URL": "https://auth.example.com/token",
    "TOKENIZERS_PARALLELISM": "false",
    "PASSWORD_REQUIRED": "yes",
    "PWD": "/home/dask",
    "COMPASS_MODE": "north",
    "MONKEY_BUSINESS": "banana",
}


@pytest.mark.parametrize(
    ("settings", "overrides", "secret"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_secret_is_refused_without_echo(
    settings: str,
    overrides: list[str],
    secret: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, {"s.yaml": NAME})
    assert run_dkgen("build", "s.yaml", "-o", "out").exit_code == 0
    before = read_tree(tmp_path / "out")
    write_inputs(tmp_path, {"s.yaml": settings})
    for command in (["build", "s.yaml", *overrides, "-o", "out"], ["validate", "s.yaml"]):
        result = run_dkgen(*command, *(overrides if command[0] == "validate" else []))
        assert result.exit_code == 2, result.stderr
        assert secret not in result.stderr + result.stdout
        assert "plain text" in result.stderr
    assert read_tree(tmp_path / "out") == before, "a refused build leaves the output alone"


def test_harmless_names_build_with_their_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    env = "".join(f"      {name}: '{value}'\n" for name, value in HARMLESS.items())
    write_inputs(
        tmp_path,
        {
            "s.yaml": GROUP
            + env
            + "jupyter:\n  image: 'ghcr.io/dask/dask-notebook:2026.8.0-py3.12@sha256:"
            + "0" * 64
            + "'\n"
        },
    )
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 0, result.stderr
    worker = (tmp_path / "out" / "deployment-dask-worker-gpu.yaml").read_text()
    for name, value in HARMLESS.items():
        assert name in worker and value in worker, name


def test_every_secret_stays_out_of_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """After every refused case above, and a build of every harmless name, no
    file under the working directory holds a secret value."""
    monkeypatch.chdir(tmp_path)
    for index, (_, settings, overrides, _) in enumerate(REFUSED):
        write_inputs(tmp_path, {f"s{index}.yaml": settings})
        run_dkgen("build", f"s{index}.yaml", *overrides, "-o", f"out{index}")
    outputs = {
        f"{folder.name}/{path}": text
        for folder in tmp_path.iterdir()
        if folder.is_dir()
        for path, text in read_tree(folder).items()
    }
    for path, text in outputs.items():
        for _, _, _, secret in REFUSED:
            assert secret not in text, f"{secret!r} found in {path}"


@pytest.mark.parametrize("name", ["PGPASSWORD", "MYSQL_PWD", "DB_PASS", "APITOKEN", "authToken"])
def test_names_the_first_heuristic_missed(name: str) -> None:
    assert credential_name(name)


@pytest.mark.parametrize("name", sorted(HARMLESS))
def test_names_that_only_point_at_a_credential(name: str) -> None:
    assert not credential_name(name)


@pytest.mark.parametrize(
    "value",
    [
        "ghcr.io/dask/dask:2026.8.0@sha256:" + "a" * 64,
        "dask:2026.8.0@sha256:" + "b" * 64,
        "git@github.com:dask/dask.git",
        "me@example.com",
        "https://me:$(PIP_PASSWORD)@pypi.example.com/simple",
        "Server=db;Password=$(DB_PASSWORD);",
    ],
)
def test_values_that_are_not_credentials(value: str) -> None:
    assert secret_shape(value) is None
