"""Security-related errors: exposure without source ranges, plaintext secrets, bad patches.

Same shape as tests/test_errors.py: (name, input files, extra arguments,
exact stderr), built in an empty working directory; every row exits 2 and
leaves no output behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_errors import write_inputs

NAME = "cluster:\n  name: demo\n"
SECRET_HINT = (
    "  hint: keep it in a Kubernetes Secret created at apply time (kubectl create secret "
    "generic NAME --from-file=KEY=/dev/stdin) and reference it by name with a patch: "
    'valueFrom: {secretKeyRef: {name: NAME, key: KEY}} (README "Secrets")\n'
)
TOKEN_HINT = (
    "  hint: Jupyter reads its token from the Secret named by jupyter.token_secret; create it "
    "at apply time: kubectl --namespace dask create secret generic jupyter-token "
    "--from-file=token=/dev/stdin\n"
)

SECURITY_ERROR_CASES: list[tuple[str, dict[str, str | bytes], list[str], str]] = [
    (
        "load balancer without source ranges",
        {"s.yaml": NAME + "access:\n  jupyter:\n    expose: load_balancer\n"},
        [],
        "s.yaml:5:13: error: access.jupyter.expose: a load balancer needs source ranges: "
        "without them it is open to the whole internet\n"
        "  hint: add access.jupyter.source_ranges: [203.0.113.0/24] (the networks that may "
        "connect), or set access.jupyter.allow_whole_internet: true to mean everyone\n",
    ),
    (
        "CIDR host bits, impossible address, whole internet in disguise",
        {
            "s.yaml": NAME + "access:\n  dashboard:\n    expose: load_balancer\n"
            "    source_ranges: [10.0.0.1/8, 300.1.1.1/32, 0.0.0.0/0]\n"
        },
        [],
        "s.yaml:6:21: error: access.dashboard.source_ranges[0]: '10.0.0.1/8' has host bits set "
        "after the /8\n  hint: write 10.0.0.0/8\n"
        "s.yaml:6:33: error: access.dashboard.source_ranges[1]: '300.1.1.1/32' is not a CIDR "
        "range\n  hint: write an address and a prefix length, such as 203.0.113.0/24\n"
        "s.yaml:6:47: error: access.dashboard.source_ranges[2]: 0.0.0.0/0 is the whole "
        "internet\n  hint: set access.dashboard.allow_whole_internet: true instead, if that is "
        "what you mean\n"
        "dkgen: 3 problems\n",
    ),
    (
        "CIDR shape",
        {"s.yaml": NAME + "access:\n  jupyter:\n    source_ranges: [office]\n"},
        [],
        "s.yaml:5:21: error: access.jupyter.source_ranges[0]: 'office' is not a CIDR range "
        "(such as 203.0.113.0/24, or 198.51.100.7/32 for one address)\n",
    ),
    (
        "source ranges and the whole internet",
        {
            "s.yaml": NAME + "access:\n  dashboard:\n    expose: load_balancer\n"
            "    source_ranges: [10.0.0.0/8]\n    allow_whole_internet: true\n"
        },
        [],
        "s.yaml:6:20: error: access.dashboard.source_ranges: source ranges and "
        "allow_whole_internet: true contradict each other\n"
        "  other value: access.dashboard.allow_whole_internet at s.yaml:7:27\n"
        "  hint: remove one: keep the ranges, or drop "
        "access.dashboard.source_ranges\n",
    ),
    (
        "Jupyter token in settings",
        {"s.yaml": NAME + "jupyter:\n  token: s3cr3t-t0ken-value\n"},
        [],
        "s.yaml:4:3: error: jupyter.token: a secret does not belong in settings: dkgen would "
        "write it into the output\n" + TOKEN_HINT,
    ),
    (
        "Jupyter password through -s, value redacted",
        {"s.yaml": NAME},
        ["-s", "jupyter.password=hunter2hunter2"],
        "-s jupyter.password=<redacted>: error: jupyter.password: a secret does not belong in "
        "settings: dkgen would write it into the output\n" + TOKEN_HINT,
    ),
    (
        "credential-named key elsewhere",
        {"s.yaml": NAME + "  apiKey: abc\n"},
        [],
        "s.yaml:3:3: error: cluster.apiKey: a secret does not belong in settings: dkgen would "
        "write it into the output\n" + SECRET_HINT,
    ),
    (
        "credential-named worker variable",
        {"s.yaml": NAME + "workers:\n  env:\n    AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMIK7MDENG\n"},
        [],
        "s.yaml:5:28: error: workers.env.AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY names a "
        "credential; its value would be written into the output in plain text\n" + SECRET_HINT,
    ),
    (
        "password inside a URL",
        {
            "s.yaml": NAME + "workers:\n  env:\n"
            "    PIP_EXTRA_INDEX_URL: https://me:hunter2@pypi.example.com/simple\n"
        },
        [],
        "s.yaml:5:26: error: workers.env.PIP_EXTRA_INDEX_URL: the value looks like a URL with a "
        "password in it; it would be written into the output in plain text\n" + SECRET_HINT,
    ),
    (
        "token where the Secret's name goes",
        {"s.yaml": NAME + "jupyter:\n  token_secret: 3f9a0c2b7d1e4f5a6b8c9d0e1f2a3b4c5d6e7f80\n"},
        [],
        "s.yaml:4:17: error: jupyter.token_secret: looks like a token itself; this setting is "
        "the *name* of the Secret that holds it\n"
        "  hint: name the Secret (e.g. jupyter-token) and put the token into it at apply time\n",
    ),
    (
        "credential added by a patch",
        {
            "s.yaml": NAME + "patches:\n  - target: {kind: Deployment, name: jupyter}\n"
            "    patch:\n      spec:\n        template:\n          spec:\n            containers:\n"
            "            - name: jupyter\n              env:\n"
            "              - {name: DB_PASSWORD, value: hunter2}\n"
        },
        [],
        "s.yaml:12:44: error: patches[0].patch.spec.template.spec.containers[0].env[0].value: "
        "DB_PASSWORD names a credential; its value would be written into the output in plain "
        "text\n" + SECRET_HINT,
    ),
    (
        "patch that matches no object",
        {
            "s.yaml": NAME + "patches:\n  - patch:\n      apiVersion: apps/v1\n"
            "      kind: Deployment\n      metadata: {name: dask-wrker}\n"
            "      spec: {replicas: 2}\n"
        },
        [],
        "s.yaml:4:5: error: patches[0]: matches no generated object (Deployment dask-wrker)\n"
        "  hint: generated objects of that kind: dask-scheduler, dask-worker-default, jupyter\n",
    ),
    (
        "targeted patch that matches no object",
        {
            "s.yaml": NAME + "patches:\n  - target: {kind: Service, name: jupyter-.*}\n"
            "    patch: [{op: remove, path: /spec/ports/0}]\n"
        },
        [],
        "s.yaml:4:5: error: patches[0]: matches no generated object (kind=Service, "
        "name=jupyter-.*)\n  hint: generated objects of that kind: dask-scheduler, jupyter\n",
    ),
    (
        "JSON 6902 without target",
        {
            "s.yaml": NAME + "patches:\n  - patch:\n      - op: add\n"
            "        path: /metadata/annotations\n        value: {a: b}\n"
        },
        [],
        "s.yaml:4:5: error: patches[0]: a JSON 6902 patch needs a target\n"
        "  hint: add e.g. `target: {kind: Deployment, name: dask-scheduler}`\n",
    ),
    (
        "JSON 6902 operations checked one by one",
        {
            "s.yaml": NAME + "patches:\n  - target: {kind: Deployment}\n    patch:\n"
            "      - {op: upsert, path: /x}\n"
            "      - {op: replace, path: /metadata/name, value: x}\n"
            "      - {op: add, path: spec/x, value: 1}\n"
        },
        [],
        "s.yaml:6:9: error: patches[0].patch[0]: op 'upsert' is not a JSON 6902 operation "
        "(allowed: add, remove, replace, move, copy, test)\n"
        "s.yaml:7:9: error: patches[0].patch[1]: replace /metadata/name would rename the object "
        "or change its kind\n"
        "  hint: dkgen names output files after kind and name; change the settings instead\n"
        "s.yaml:8:9: error: patches[0].patch[2]: path 'spec/x' is not a JSON pointer (starts "
        "with /)\n"
        "dkgen: 3 problems\n",
    ),
    (
        "JSON 6902 path that does not exist",
        {
            "s.yaml": NAME + "patches:\n  - target: {kind: Service, name: jupyter}\n"
            "    patch: [{op: replace, path: /spec/nothing/here, value: 1}]\n"
        },
        [],
        "s.yaml:4:5: error: patches[0]: Service/jupyter: operation 0 (replace "
        "/spec/nothing/here): path does not exist\n",
    ),
    (
        "strategic merge without target or name",
        {"s.yaml": NAME + "patches:\n  - patch: {spec: {replicas: 2}}\n"},
        [],
        "s.yaml:4:12: error: patches[0].patch: a strategic-merge patch without a target must "
        "name its object\n"
        "  hint: give it `kind:` and `metadata: {name: ...}` as kustomize does, or add a target\n",
    ),
    (
        "unsupported strategic-merge directive",
        {
            "s.yaml": NAME + "patches:\n  - target: {kind: Deployment}\n    patch:\n"
            "      spec:\n        $retainKeys: [a]\n"
        },
        [],
        "s.yaml:7:22: error: patches[0].patch.spec.$retainKeys: the strategic-merge directive "
        "$retainKeys is not supported\n"
        "  hint: dkgen supports `$patch: delete`, `$patch: replace` and null to remove a field; "
        "write a JSON 6902 patch for anything else\n",
    ),
    (
        "malformed label selector",
        {
            "s.yaml": NAME + "patches:\n  - target: {labelSelector: 'a in b'}\n"
            "    patch: {metadata: {annotations: {x: y}}}\n"
        },
        [],
        "s.yaml:4:29: error: patches[0].target.labelSelector: 'a in b' is not a Kubernetes "
        "label selector\n"
        "  hint: write key=value, key!=value, key in (a,b), key notin (a,b), key or !key, "
        "joined by commas\n",
    ),
]


@pytest.mark.parametrize(
    ("files", "extra", "expected"),
    [case[1:] for case in SECURITY_ERROR_CASES],
    ids=[case[0] for case in SECURITY_ERROR_CASES],
)
def test_security_error_message(
    files: dict[str, str | bytes],
    extra: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path, files)
    result = run_dkgen("build", "s.yaml", *extra, "-o", "out")
    assert result.stderr == expected
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists(), "a failed build must not create the output"


def test_whole_internet_warns_on_every_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write_inputs(
        tmp_path,
        {
            # A project, so the only warning is the one under test.
            "s.yaml": NAME + "  project: demo-project\naccess:\n  jupyter:\n"
            "    expose: load_balancer\n    allow_whole_internet: true\n"
        },
    )
    for _ in range(2):
        result = run_dkgen("build", "s.yaml", "-o", "out")
        assert result.exit_code == 0
        assert result.stderr == (
            "s.yaml:7:27: warning: access.jupyter.allow_whole_internet: jupyter is exposed to "
            "the whole internet (0.0.0.0/0) through a load balancer\n"
            "  hint: list the networks that need it in access.jupyter.source_ranges instead\n"
        )
