# ruff: noqa: E501
# (The table keeps each exact message whole, one line each, as users see them.)
"""The adversarial corpus: hostile and broken inputs, each with its exact outcome.

Every file in ``tests/adversarial/`` is built as the only settings file
(``dkgen build FILE -o out`` in an empty directory) and has one row in
:data:`CORPUS`: the exit code and the exact stderr. A build that succeeds
also has a check of its output in :data:`OUTPUT_CHECKS`. Inputs that cannot
be committed (a 50 MB file, pipes, devices, symlinks, unreadable files, a
hostile manifest in an output directory) are made by the tests below.
tests/test_bounds.py runs the same corpus in child processes and measures
their CPU time and memory.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dkgen.limits import MAX_FILE_BYTES

CORPUS_DIR = Path(__file__).parent / "adversarial"

GCS_WARNING = (
    "dkgen:bases/default.yaml:10:3: warning: gcs.access: cluster.project is not set, so pods "
    "reach Cloud Storage through the nodes' cloud-platform scope (as the original tool did)\n"
    "  hint: set cluster.project for Workload Identity, or gcs.access: node_scopes to choose "
    "this explicitly\n"
)

# file -> (exit code, exact stderr)
CORPUS: list[tuple[str, int, str]] = [
    (
        "alias-bomb-flow.yaml",
        2,
        (
            "alias-bomb-flow.yaml:3:149: error: dask_config.d: more than 5000 values after expanding YAML aliases\n"
            "  hint: aliases that repeat other aliases multiply (a 'billion laughs' file); write the values out\n"
        ),
    ),
    (
        "alias-bomb.yaml",
        2,
        (
            "alias-bomb.yaml:7:3: error: dask_config.d: more than 5000 values after expanding YAML aliases\n"
            "  hint: aliases that repeat other aliases multiply (a 'billion laughs' file); write the values out\n"
        ),
    ),
    ("alias-recursive.yaml", 0, GCS_WARNING),
    (
        "alias-wide.yaml",
        2,
        (
            "alias-wide.yaml:5:3: error: dask_config.grid: more than 5000 values after expanding YAML aliases\n"
            "  hint: aliases that repeat other aliases multiply (a 'billion laughs' file); write the values out\n"
        ),
    ),
    (
        "complex-key.yaml",
        2,
        ("complex-key.yaml:3:3: error: key ('a', 'b') is not a string\n  hint: quote the key\n"),
    ),
    (
        "control-character.yaml",
        2,
        (
            "control-character.yaml:5:12: error: character U+0007 is not allowed in YAML\n"
            "  hint: remove it; a file with NUL bytes may be UTF-16: save it as UTF-8\n"
        ),
    ),
    ("cr-only.yaml", 0, GCS_WARNING),
    ("crlf.yaml", 0, GCS_WARNING),
    ("deep-block.yaml", 2, ("deep-block.yaml:36:67: error: nested deeper than 32 levels\n")),
    (
        "deep-flow-unclosed.yaml",
        2,
        ("deep-flow-unclosed.yaml:3:94: error: nested deeper than 32 levels\n"),
    ),
    ("deep-flow.yaml", 2, ("deep-flow.yaml:3:46: error: nested deeper than 32 levels\n")),
    ("depth-at-limit.yaml", 0, GCS_WARNING),
    (
        "duplicate-key.yaml",
        2,
        (
            "duplicate-key.yaml:5:3: error: workers.count: duplicate key (first set at line 4)\n"
            "  hint: keep one of the two\n"
        ),
    ),
    (
        "duplicate-section.yaml",
        2,
        (
            "duplicate-section.yaml:4:1: error: cluster: duplicate key (first set at line 1)\n"
            "  hint: keep one of the two\n"
        ),
    ),
    (
        "empty.yaml",
        2,
        (
            "empty.yaml:1:1: error: file is empty (no settings)\n"
            "  hint: add at least `cluster: {name: my-dask}`, or drop the file from the command\n"
        ),
    ),
    (
        "env-name-newline.yaml",
        2,
        (
            "env-name-newline.yaml:5:5: error: workers.env.A\\nB: 'A\\nB' is not an environment variable name (allowed: letters, digits and underscores, not starting with a digit)\n"
        ),
    ),
    ("env-value-shell.yaml", 0, GCS_WARNING),
    (
        "float-overflow.yaml",
        2,
        ("float-overflow.yaml:4:20: error: workers.cpus_per_worker: inf is not a finite number\n"),
    ),
    (
        "group-name-traversal.yaml",
        2,
        (
            "group-name-traversal.yaml:4:3: error: worker_groups.../escape: '../escape' is not a worker group name (allowed: 1-30 lowercase letters, digits and hyphens; starts with a letter)\n"
        ),
    ),
    (
        "hex-token-secret-name.yaml",
        2,
        (
            "hex-token-secret-name.yaml:4:17: error: jupyter.token_secret: looks like a token itself; this setting is the *name* of the Secret that holds it\n"
            "  hint: name the Secret (e.g. jupyter-token) and put the token into it at apply time\n"
        ),
    ),
    ("inf.yaml", 2, ("inf.yaml:4:15: error: workers.mem_factor: -inf is not a finite number\n")),
    (
        "int-400-digits.yaml",
        2,
        (
            "int-400-digits.yaml:4:10: error: workers.count: a number of 400 digits is out of range (allowed: 0 ≤ value ≤ 10000)\n"
        ),
    ),
    (
        "int-5000-digits.yaml",
        2,
        (
            "int-5000-digits.yaml:4:10: error: a number of 5000 digits is too long to read\n"
            "  hint: no setting takes a number this long; quote it if it is text\n"
        ),
    ),
    (
        "integer-key.yaml",
        2,
        (
            "integer-key.yaml:5:5: error: workers.env: key 1 is not a string\n"
            "  hint: quote the key\n"
        ),
    ),
    (
        "key-newline.yaml",
        2,
        (
            "key-newline.yaml:4:3: error: jupyter.port\\n: unknown setting\n"
            "  hint: did you mean `jupyter.port`?\n"
        ),
    ),
    (
        "label-shell.yaml",
        2,
        (
            "label-shell.yaml:3:18: error: cluster.labels.team: 'a;b' is not a label value (allowed: lowercase letters, digits, '_' and '-'; at most 63)\n"
        ),
    ),
    (
        "latin1.yaml",
        2,
        ("latin1.yaml:5:16: error: byte 0xe9 is not valid UTF-8\n  hint: save the file as UTF-8\n"),
    ),
    ("merge-key-in-section.yaml", 0, GCS_WARNING),
    (
        "merge-key.yaml",
        2,
        (
            "merge-key.yaml:3:1: error: defaults: unknown setting\n"
            "  hint: allowed here: namespace, cluster, scheduler, workers, worker_groups, jupyter, gcs, access, dask_config, patches\n"
        ),
    ),
    (
        "multi-document.yaml",
        2,
        ("multi-document.yaml:3:1: error: invalid YAML: but found another document\n"),
    ),
    (
        "name-command-substitution.yaml",
        2,
        (
            "name-command-substitution.yaml:2:9: error: cluster.name: '$(touch pwned)' is not a valid GKE cluster name (allowed: 1-40 lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit)\n"
        ),
    ),
    (
        "name-newline.yaml",
        2,
        (
            "name-newline.yaml:2:9: error: cluster.name: 'demo\\nrm -rf /' is not a valid GKE cluster name (allowed: 1-40 lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit)\n"
        ),
    ),
    (
        "name-path-traversal.yaml",
        2,
        (
            "name-path-traversal.yaml:2:9: error: cluster.name: '../../etc' is not a valid GKE cluster name (allowed: 1-40 lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit)\n"
        ),
    ),
    (
        "name-shell-metacharacters.yaml",
        2,
        (
            "name-shell-metacharacters.yaml:2:9: error: cluster.name: 'demo; rm -rf /' is not a valid GKE cluster name (allowed: 1-40 lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit)\n"
        ),
    ),
    (
        "namespace-slash.yaml",
        2,
        (
            "namespace-slash.yaml:3:12: error: namespace: 'kube-system/../x' is not a valid DNS-1123 label (allowed: at most 63 lowercase letters, digits and hyphens; starts and ends with a letter or digit)\n"
        ),
    ),
    (
        "nan.yaml",
        2,
        ("nan.yaml:4:20: error: workers.cpus_per_worker: nan is not a finite number\n"),
    ),
    (
        "nul-byte.yaml",
        2,
        (
            "nul-byte.yaml:5:9: error: character U+0000 is not allowed in YAML\n"
            "  hint: remove it; a file with NUL bytes may be UTF-16: save it as UTF-8\n"
        ),
    ),
    (
        "null-document.yaml",
        2,
        (
            "null-document.yaml:1:1: error: file is empty (no settings)\n"
            "  hint: add at least `cluster: {name: my-dask}`, or drop the file from the command\n"
        ),
    ),
    (
        "null-section.yaml",
        2,
        (
            "null-section.yaml:1:1: error: cluster: expected a mapping, got null\n"
            "  hint: an empty section is `{}`; or remove the line\n"
        ),
    ),
    (
        "only-comments.yaml",
        2,
        (
            "only-comments.yaml:1:1: error: file is empty (no settings)\n"
            "  hint: add at least `cluster: {name: my-dask}`, or drop the file from the command\n"
        ),
    ),
    (
        "patch-lookahead.yaml",
        2,
        (
            "patch-lookahead.yaml:4:20: error: patches[0].target.name: '(?!x)dask-.*': lookahead or lookbehind is not supported (kustomize's RE2 has none)\n"
        ),
    ),
    (
        "patch-number-label.yaml",
        2,
        (
            "patch-number-label.yaml:4:5: error: patches[0]: Deployment/dask-scheduler: metadata.labels.version is not a string; Kubernetes labels and annotations map names to strings\n"
            "  hint: quote the value (YAML reads 2 or true as a number or boolean)\n"
        ),
    ),
    (
        "patch-path-field.yaml",
        2,
        (
            "patch-path-field.yaml:1:1: error: patches[0].patch: required setting is missing\n"
            "  hint: add it to your settings file, e.g. `patches[0].patch: ...`\n"
            "patch-path-field.yaml:4:5: error: patches[0].path: unknown setting\n"
            "  hint: did you mean `patches[0].patch`?\n"
            "dkgen: 2 problems\n"
        ),
    ),
    (
        "patch-redos-nested.yaml",
        2,
        (
            "patch-redos-nested.yaml:5:5: error: patches[0]: matches no generated object (name=(.*)*x, namespace=((a+)+)+b)\n"
            "  hint: generated kinds: Deployment, Namespace, NetworkPolicy, PodDisruptionBudget, Service, ServiceAccount\n"
        ),
    ),
    (
        "patch-redos.yaml",
        2,
        (
            "patch-redos.yaml:5:5: error: patches[0]: matches no generated object (name=(a|a)*b)\n"
            "  hint: generated kinds: Deployment, Namespace, NetworkPolicy, PodDisruptionBudget, Service, ServiceAccount\n"
        ),
    ),
    (
        "patch-repeat-count.yaml",
        2,
        (
            "patch-repeat-count.yaml:4:20: error: patches[0].target.name: 'a{5000}': repeat counts above 1000 are not supported (as in RE2)\n"
        ),
    ),
    (
        "project-injection.yaml",
        2,
        (
            'project-injection.yaml:3:12: error: cluster.project: "demo-project\' --impersonate-service-account=x" is not a valid project ID (allowed: 6-30 lowercase letters, digits and hyphens; starts with a letter, ends with a letter or digit)\n'
        ),
    ),
    (
        "secret-in-env.yaml",
        2,
        (
            "secret-in-env.yaml:5:18: error: workers.env.DB_PASSWORD: DB_PASSWORD names a credential; its value would be written into the output in plain text\n"
            '  hint: keep it in a Kubernetes Secret created at apply time (kubectl create secret generic NAME --from-file=KEY=/dev/stdin) and reference it by name with a patch: valueFrom: {secretKeyRef: {name: NAME, key: KEY}} (README "Secrets")\n'
        ),
    ),
    (
        "tab-indent.yaml",
        2,
        ("tab-indent.yaml:2:1: error: a tab character; YAML indents with spaces only\n"),
    ),
    (
        "tag-binary.yaml",
        2,
        (
            "tag-binary.yaml:3:18: error: dask_config.x: unsupported YAML value of type bytes\n"
            "  hint: use plain strings, numbers, booleans, lists and mappings\n"
        ),
    ),
    (
        "tag-custom.yaml",
        2,
        (
            "tag-custom.yaml:3:10: error: workers: the YAML tag !include is not supported\n"
            "  hint: remove the tag; settings are plain strings, numbers, booleans, lists and mappings\n"
        ),
    ),
    (
        "tag-python.yaml",
        2,
        (
            "tag-python.yaml:4:6: error: dask_config.x: the YAML tag !!python/object/apply:os.system is not supported\n"
            "  hint: remove the tag; settings are plain strings, numbers, booleans, lists and mappings\n"
        ),
    ),
    (
        "top-level-list.yaml",
        2,
        (
            "top-level-list.yaml:1:1: error: the top level is a list; a settings file is a mapping of sections\n"
            "  hint: start with a section such as `cluster:` or `workers:`\n"
        ),
    ),
    (
        "top-level-scalar.yaml",
        2,
        (
            "top-level-scalar.yaml:1:1: error: the top level is a single value; a settings file is a mapping of sections\n"
            "  hint: start with a section such as `cluster:` or `workers:`\n"
        ),
    ),
    ("utf16be-bom.yaml", 2, ("utf16be-bom.yaml:1:1: error: file is UTF-16; save it as UTF-8\n")),
    ("utf16le-bom.yaml", 2, ("utf16le-bom.yaml:1:1: error: file is UTF-16; save it as UTF-8\n")),
    (
        "utf16le-no-bom.yaml",
        2,
        (
            "utf16le-no-bom.yaml:1:2: error: character U+0000 is not allowed in YAML\n"
            "  hint: remove it; a file with NUL bytes may be UTF-16: save it as UTF-8\n"
        ),
    ),
    ("utf32-bom.yaml", 2, ("utf32-bom.yaml:1:1: error: file is UTF-32; save it as UTF-8\n")),
    ("utf8-bom.yaml", 0, GCS_WARNING),
    (
        "utf8-encoded-surrogate.yaml",
        2,
        (
            "utf8-encoded-surrogate.yaml:5:8: error: byte 0xed is not valid UTF-8\n"
            "  hint: save the file as UTF-8\n"
        ),
    ),
    (
        "yaml11-booleans.yaml",
        2,
        (
            "yaml11-booleans.yaml:3:16: error: cluster.autoscaling: expected true or false, got the string 'yes'\n"
            "  hint: YAML 1.2 reads 'yes' as a string, not a boolean; write true or false\n"
            "yaml11-booleans.yaml:4:16: error: cluster.preemptible: expected true or false, got the string 'off'\n"
            "  hint: YAML 1.2 reads 'off' as a string, not a boolean; write true or false\n"
            "dkgen: 2 problems\n"
        ),
    ),
    (
        "yaml11-directive.yaml",
        2,
        (
            "yaml11-directive.yaml:1:1: error: dkgen reads YAML 1.2, not 1.1\n"
            "  hint: remove the %YAML line\n"
        ),
    ),
    ("yaml11-octal.yaml", 0, GCS_WARNING),
]


def _object(out: Path, name: str) -> Any:
    return yaml.safe_load((out / name).read_text(encoding="utf-8"))


def _replicas(count: int) -> Callable[[Path], None]:
    def check(out: Path) -> None:
        assert _object(out, "deployment-dask-worker-default.yaml")["spec"]["replicas"] == count

    return check


def _dask_config(expected: dict[str, Any]) -> Callable[[Path], None]:
    def check(out: Path) -> None:
        config = _object(out, "configmap-dask-config.yaml")["data"]["dask.yaml"]
        assert yaml.safe_load(config) == expected

    return check


def _env_value_verbatim(out: Path) -> None:
    value = "$(touch pwned); `id` && echo ${HOME} > /tmp/x"
    worker = _object(out, "deployment-dask-worker-default.yaml")
    env = {
        e["name"]: e.get("value")
        for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SAFE"] == value
    assert value not in (out / "cluster.sh").read_text(encoding="utf-8")
    assert not Path("pwned").exists()


def _same_as_without_bom(out: Path) -> None:
    assert (out / "cluster.sh").read_text(encoding="utf-8").count("'demo'") or "demo" in (
        out / "cluster.sh"
    ).read_text(encoding="utf-8")


def _disk_size(size: int) -> Callable[[Path], None]:
    def check(out: Path) -> None:
        assert f"--disk-size {size}" in (out / "cluster.sh").read_text(encoding="utf-8")

    return check


# What a successful build of a corpus file must contain.
OUTPUT_CHECKS: dict[str, Callable[[Path], None]] = {
    # ruamel reads an alias inside its own anchor as null: no endless structure.
    "alias-recursive.yaml": _dask_config({"again": None}),
    "cr-only.yaml": _replicas(3),
    "crlf.yaml": _replicas(3),
    "depth-at-limit.yaml": lambda out: None,  # 32 levels are allowed: it builds
    "env-value-shell.yaml": _env_value_verbatim,
    "merge-key-in-section.yaml": _replicas(2),  # `<<` merges, as YAML defines it
    "utf8-bom.yaml": _same_as_without_bom,
    "yaml11-octal.yaml": _disk_size(15),  # 0o17 is YAML 1.2's octal 15
}


def test_corpus_is_complete() -> None:
    names = sorted(p.name for p in CORPUS_DIR.iterdir())
    assert names == sorted(row[0] for row in CORPUS), "every corpus file needs a row"
    assert len(names) >= 40
    assert {name for name, code, _ in CORPUS if code == 0} == set(OUTPUT_CHECKS)


@pytest.mark.parametrize(("name", "code", "stderr"), CORPUS, ids=[row[0] for row in CORPUS])
def test_corpus_file(
    name: str,
    code: int,
    stderr: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes((CORPUS_DIR / name).read_bytes())
    result = run_dkgen("build", name, "-o", "out")
    assert (result.exit_code, result.stderr) == (code, stderr)
    if code == 0:
        OUTPUT_CHECKS[name](tmp_path / "out")
    else:
        assert not (tmp_path / "out").exists()
    assert sorted(os.listdir(tmp_path)) == sorted({name, "out"} if code == 0 else {name})


# ---------------------------------------------------------------- made at test time

LIMIT = f"settings files are limited to {MAX_FILE_BYTES} bytes"


def build(run_dkgen: Any, *args: str | os.PathLike[str]) -> tuple[int, str]:
    result = run_dkgen("build", *args, "-o", "out")
    return result.exit_code, result.stderr


def test_50_mb_file_is_refused_by_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    with open("big.yaml", "wb") as handle:  # sparse: no 50 MB written to disk
        handle.write(b"cluster: {name: demo}\n")
        handle.truncate(50 * 1024 * 1024)
    assert build(run_dkgen, "big.yaml") == (
        2,
        f"big.yaml: error: file is 52428800 bytes; {LIMIT}\n",
    )


def test_size_limit_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    body = "cluster: {name: demo}\n#"
    Path("max.yaml").write_text(body + "x" * (MAX_FILE_BYTES - len(body) - 1) + "\n")
    Path("over.yaml").write_text(body + "x" * (MAX_FILE_BYTES - len(body)) + "\n")
    assert build(run_dkgen, "max.yaml") == (0, GCS_WARNING)
    assert build(run_dkgen, "over.yaml") == (
        2,
        f"over.yaml: error: file is {MAX_FILE_BYTES + 1} bytes; {LIMIT}\n",
    )


def test_endless_device_is_read_only_to_the_limit(run_dkgen: Any, in_repo: Path) -> None:
    """/dev/zero reports size 0; reading it whole never ended."""
    assert build(run_dkgen, "/dev/zero") == (
        2,
        f"{os.path.relpath('/dev/zero')}: error: holds more than {MAX_FILE_BYTES} bytes; {LIMIT}\n",
    )


def test_pipe_is_read_only_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """``dkgen build <(generate)``: the settings arrive through a pipe."""
    monkeypatch.chdir(tmp_path)
    read_end, write_end = os.pipe()

    def feed() -> None:
        try:
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(b"cluster: {name: demo}\n" + b"#" * (2 * MAX_FILE_BYTES) + b"\n")
        except BrokenPipeError:
            pass  # dkgen stopped reading, as it should

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        path = f"/dev/fd/{read_end}"
        assert build(run_dkgen, path) == (
            2,
            f"{os.path.relpath(path)}: error: holds more than {MAX_FILE_BYTES} bytes; {LIMIT}\n",
        )
    finally:
        os.close(read_end)
        writer.join()


def test_symlinked_settings_file_builds_under_its_own_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("real.yaml").write_text("cluster: {name: demo}\n")
    Path("link.yaml").symlink_to("real.yaml")
    assert build(run_dkgen, "link.yaml") == (0, GCS_WARNING)
    assert "from dkgen:bases/default.yaml, link.yaml." in Path("out/cluster.sh").read_text()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda p: p.symlink_to(p),
            "loop.yaml: error: cannot read: Too many levels of symbolic links\n",
        ),
        (
            lambda p: p.symlink_to("missing.yaml"),
            "loop.yaml: error: no such file\n"
            "  hint: check the path; `dkgen init` writes a starter file\n",
        ),
        (lambda p: p.mkdir(), "loop.yaml: error: is a directory, not a settings file\n"),
    ],
    ids=["symlink-loop", "dangling-symlink", "directory"],
)
def test_unusable_paths(
    make: Callable[[Path], None],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "loop.yaml")
    assert build(run_dkgen, "loop.yaml") == (2, expected)


UNREADABLE = "secret.yaml: error: permission denied while reading\n"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any) -> None:
    """Root reads a mode-000 file anyway, so the refusal is simulated at open();
    test_unreadable_file_for_real checks the real thing where it can."""
    monkeypatch.chdir(tmp_path)
    Path("secret.yaml").write_text("cluster: {name: demo}\n")
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "secret.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert build(run_dkgen, "secret.yaml") == (2, UNREADABLE)


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads a mode-000 file; see test_unreadable_file"
)
def test_unreadable_file_for_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("secret.yaml").write_text("cluster: {name: demo}\n")
    Path("secret.yaml").chmod(0)
    assert build(run_dkgen, "secret.yaml") == (2, UNREADABLE)


def test_overlay_names_that_are_paths_stay_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """Only a plain name ([a-z0-9_-]) picks a shipped overlay; ../../etc/passwd
    is the path the user typed, read like any settings file they name."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    Path("s.yaml").write_text("cluster: {name: demo}\n")
    code, stderr = build(run_dkgen, "s.yaml", "--overlay", "../../etc/passwd")
    assert (code, stderr) == (
        2,
        "../../etc/passwd:1:1: error: the top level is a single value; a settings file is a "
        "mapping of sections\n  hint: start with a section such as `cluster:` or `workers:`\n",
    )
    assert "root:x" not in stderr  # no content of the file is repeated
    code, stderr = build(run_dkgen, "s.yaml", "--overlay", "../prod")
    assert (code, stderr) == (
        2,
        "../prod: error: no such file\n  hint: check the path; `dkgen init` writes a starter file\n",
    )


def test_hostile_manifest_cannot_reach_outside_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """A manifest committed with the output (say, in a pull request) that names
    ../secret.txt must not make check print that file, nor build touch it."""
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text("cluster: {name: demo}\n")
    assert build(run_dkgen, "s.yaml")[0] == 0
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    manifest_path = tmp_path / "out" / ".dkgen-manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["../secret.txt"] = "sha256:" + "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    refusal = GCS_WARNING + (
        f"{manifest_path}: error: the dkgen manifest names '../secret.txt', which is "
        f"not a file directly in {tmp_path / 'out'}\n"
        "  hint: restore the manifest from version control, or rebuild with --force\n"
    )
    checked = run_dkgen("check", "s.yaml", "-o", "out")
    assert (checked.exit_code, checked.stdout, checked.stderr) == (2, "", refusal)
    assert build(run_dkgen, "s.yaml") == (2, refusal)
    forced = run_dkgen("build", "s.yaml", "-o", "out", "--force")
    assert forced.exit_code == 0
    assert secret.read_text() == "TOP-SECRET\n"
    assert "../secret.txt" not in manifest_path.read_text()


def test_config_shows_a_string_that_looks_like_a_broken_float(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    """ruamel reads a plain `._` as a float and fails; dkgen config must quote it
    (it raised ValueError, found by the ci profile's derandomized examples)."""
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text('cluster: {name: demo}\ndask_config: {"._": "._"}\n')
    result = run_dkgen("config", "s.yaml")
    assert result.exit_code == 0, result.stderr
    assert 'dask_config:\n  "._": "._"\n' in result.stdout


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "namespace=&a [*a]",  # an alias inside its own anchor: a RecursionError traceback
            "-s namespace=&a [*a]: error: nested deeper than 32 levels\n",
        ),
        (
            "dask_config=!!python/object/apply:os.system [x]",  # was read as a plain list
            "-s dask_config=!!python/object/apply:os.system [x]: error: the YAML tag "
            "!!python/object/apply:os.system is not supported\n",
        ),
        (
            "workers.count=a\nb",  # the newline split the problem over two lines
            "-s workers.count=a\\nb: error: workers.count: expected an integer, got the "
            "string 'a b'\n",
        ),
    ],
    ids=["recursive-alias", "python-tag", "newline"],
)
def test_hostile_overrides(
    override: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text("cluster: {name: demo}\n")
    assert build(run_dkgen, "s.yaml", "-s", override) == (2, expected)


def test_file_name_with_a_newline_stays_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dkgen: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s\n.yaml").write_text("cluster: {name: demo}\nworkers: 3\n")
    assert build(run_dkgen, "s\n.yaml") == (
        2,
        "s\\n.yaml:2:10: error: workers: expected a mapping, got the number 3\n",
    )
