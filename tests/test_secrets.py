"""No secret value reaches the output directory, however a user supplies it.

Each way a user might hand dkgen a secret is tried with a distinct test
value: settings keys, ``-s`` overrides, worker variables, values with a
credential's shape, patches (in place and as YAML text), the Secret's name
and dkgen's own environment. The ones dkgen must refuse exit 2 without
writing anything and without repeating the value on stderr; after all of
them, every file of every output (and a build that sets the token the
supported way) is searched for every test value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import read_tree
from tests.test_errors import write_inputs
from tests.test_golden import CASE_DIRS

NAME = "cluster:\n  name: demo\n"

# (how, settings text, -s overrides, the secret value used)
REFUSED: list[tuple[str, str, list[str], str]] = [
    ("jupyter.token", NAME + "jupyter:\n  token: tok-3c1f-jupyter\n", [], "tok-3c1f-jupyter"),
    ("jupyter.password", NAME + "jupyter:\n  password: pw-77ab-jupyter\n", [], "pw-77ab-jupyter"),
    ("-s jupyter.token", NAME, ["-s", "jupyter.token=tok-91d2-override"], "tok-91d2-override"),
    (
        "-s workers.env credential",
        NAME,
        ["-s", "workers.env.API_TOKEN=tok-55e0-env-override"],
        "tok-55e0-env-override",
    ),
    (
        "workers.env credential name",
        NAME + "workers:\n  env:\n    DB_PASSWORD: pw-4410-worker-env\n",
        [],
        "pw-4410-worker-env",
    ),
    (
        "workers.env camelCase credential",
        NAME + "workers:\n  env:\n    gcsAccessKey: key-0e7a-camel\n",
        [],
        "key-0e7a-camel",
    ),
    (
        "credential shape under an innocent name",
        NAME + "workers:\n  env:\n    SETTING: AKIAZ7Q3K9EXAMPLE0FX\n",
        [],
        "AKIAZ7Q3K9EXAMPLE0FX",
    ),
    (
        "password inside a URL",
        NAME
        + "workers:\n  env:\n    EXTRA_PIP_PACKAGES: git+https://me:pw-c0ffee-url@git.example/x\n",
        [],
        "pw-c0ffee-url",
    ),
    (
        "private key in the Dask configuration",
        NAME + "dask_config:\n  distributed:\n    comm:\n      tls:\n"
        "        key: '-----BEGIN PRIVATE KEY-----MIIEv0x9f-----END PRIVATE KEY-----'\n",
        [],
        "MIIEv0x9f",
    ),
    (
        "credential in the Dask configuration",
        NAME + "dask_config:\n  gateway:\n    auth:\n      jupyterhub:\n"
        "        api_token: tok-d00d-gateway\n",
        [],
        "tok-d00d-gateway",
    ),
    (
        "credential in a patch",
        NAME + "patches:\n  - target: {kind: Deployment, name: dask-worker-.*}\n    patch:\n"
        "      spec:\n        template:\n          spec:\n            containers:\n"
        "            - name: worker\n              env:\n"
        "              - {name: AWS_SECRET_ACCESS_KEY, value: key-6b6b-patch}\n",
        [],
        "key-6b6b-patch",
    ),
    (
        "credential in a patch given as text",
        NAME + "patches:\n  - target: {kind: Deployment, name: jupyter}\n    patch: |\n"
        "      spec:\n        template:\n          spec:\n            containers:\n"
        "            - name: jupyter\n              env:\n"
        "              - {name: GITHUB_TOKEN, value: ghp_0123456789abcdefghijklmnopqrstuvwxyz}\n",
        [],
        "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    ),
    (
        "the token where the Secret's name goes",
        NAME + "jupyter:\n  token_secret: 9e107d9d372bb6826bd81d3542a419d6a1b2c3d4e5f60718\n",
        [],
        "9e107d9d372bb6826bd81d3542a419d6a1b2c3d4e5f60718",
    ),
]
# The supported way: the Secret's name in settings, the value only in the cluster.
SUPPORTED_ENVIRONMENT = {"JUPYTER_TOKEN": "tok-a9a9-environment", "DB_PASSWORD": "pw-b8b8-env"}


@pytest.mark.parametrize(
    ("settings", "overrides", "secret"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_plaintext_secret_is_refused_without_echo(
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
    result = run_dkgen("build", "s.yaml", *overrides, "-o", "out")
    assert result.exit_code == 2, result.stderr
    assert secret not in result.stderr + result.stdout
    assert "secret" in result.stderr.lower() or "credential" in result.stderr.lower()
    assert read_tree(tmp_path / "out") == before, "a refused build leaves the output alone"


def test_no_test_secret_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    for name, value in SUPPORTED_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            # The supported ways: the Secret named, a credential file's path, a $(VAR) reference.
            "s.yaml": NAME + "jupyter:\n  token_secret: team-notebook-token\nworkers:\n  env:\n"
            "    GOOGLE_APPLICATION_CREDENTIALS: /var/secrets/google/key.json\n"
            "    PIP_INDEX_URL: https://me:$(PIP_PASSWORD)@pypi.example.com/simple\n"
        },
    )
    result = run_dkgen("build", "s.yaml", "-o", "out")
    assert result.exit_code == 0, result.stderr
    built = read_tree(tmp_path / "out")
    assert "team-notebook-token" in built["deployment-jupyter.yaml"]
    golden = {
        f"{case.name}/{path}": text
        for case in CASE_DIRS
        for path, text in read_tree(case / "expected").items()
    }
    secrets = [case[3] for case in REFUSED] + list(SUPPORTED_ENVIRONMENT.values())
    for path, text in {**built, **golden}.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in {path}"


def test_jupyter_server_reads_the_token_from_the_mounted_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable and path the Deployment sets are the ones jupyter_server reads."""
    from jupyter_server.auth.identity import IdentityProvider

    example = next(case for case in CASE_DIRS if case.name == "example")
    deployment = yaml.safe_load((example / "expected" / "deployment-jupyter.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert "JUPYTER_TOKEN" not in env, "kernels inherit the server's environment"
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    (item,) = volume["secret"]["items"]
    assert volume["secret"]["secretName"] == "jupyter-token" and mount["readOnly"] is True
    assert env["JUPYTER_TOKEN_FILE"]["value"] == f"{mount['mountPath']}/{item['path']}"

    token_file = tmp_path / item["path"]
    token_file.write_text("t0k-from-secret")
    monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
    monkeypatch.setenv("JUPYTER_TOKEN_FILE", str(token_file))
    assert IdentityProvider().token == "t0k-from-secret"
