"""The adversarial corpus: hostile and broken inputs, each with its exact outcome.

Every folder in ``tests/adversarial/`` is one case (see tests/conftest.py):
its one settings file in ``input/``, built as the only settings file
(``dkgen build FILE -o out`` in an empty directory), and its exit code and
exact stderr in ``expected`` (``pytest --update-golden`` rewrites them). A
build that succeeds also has a check of its output in :data:`OUTPUT_CHECKS`.
Inputs that cannot be committed (a 50 MB file, pipes, devices, symlinks,
unreadable files, a hostile manifest in an output directory) are made by the
tests below. tests/test_bounds.py runs the same corpus in child processes and
measures their CPU time and memory.
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
from tests.conftest import ErrorCase, read_cases
from tests.hostile_corpus import HOSTILE_OUTPUT_CHECKS

CORPUS_DIR = Path(__file__).parent / "adversarial"
CASES = read_cases(CORPUS_DIR)

GCS_WARNING = (
    "dkgen:bases/default.yaml:10:3: warning: gcs.access: cluster.project is not set, so pods "
    "reach Cloud Storage through the nodes' cloud-platform scope (as the original tool did)\n"
    "  hint: set cluster.project for Workload Identity, or gcs.access: node_scopes to choose "
    "this explicitly\n"
)

# file -> (exit code, exact stderr)
CORPUS: list[tuple[str, int, str]] = [
    (name, case.exit_code, case.stderr) for case in CASES for name in case.files
]


def corpus_path(name: str) -> Path:
    """Where the corpus file ``name`` lives: ``<case>/input/<name>``."""
    return CORPUS_DIR / name.rsplit(".", 1)[0] / "input" / name


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


# The hostile-input classes of issue 18 (tests/hostile_corpus.py).
OUTPUT_CHECKS.update(HOSTILE_OUTPUT_CHECKS)


def test_corpus_is_complete() -> None:
    for case in CASES:
        assert list(case.files) == [f"{case.name}.yaml"], "one settings file per case"
        assert case.args == list(case.files), case.name
    assert len(CASES) >= 40
    assert {name for name, code, _ in CORPUS if code == 0} == set(OUTPUT_CHECKS)
    # A corpus file that builds says only the default-project warning; the
    # hostile-input cases that build may warn of what they weaken.
    # (Notes, advice such as a small disk, may follow it.)
    quiet = {
        name
        for name, code, stderr in CORPUS
        if code == 0
        and stderr.startswith(GCS_WARNING)
        and "warning:" not in stderr.removeprefix(GCS_WARNING)
        and "error:" not in stderr
    }
    assert set(OUTPUT_CHECKS) - set(HOSTILE_OUTPUT_CHECKS) <= quiet


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_file(
    case: ErrorCase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dkgen: Any,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.chdir(tmp_path)
    case.write_inputs(tmp_path)
    result = run_dkgen("build", *case.args, "-o", "out")
    if request.config.getoption("--update-golden"):
        case.update(result.exit_code, result.stderr)
        return
    assert (result.exit_code, result.stderr) == (case.exit_code, case.stderr)
    [name] = case.files
    if case.exit_code == 0:
        OUTPUT_CHECKS[name](tmp_path / "out")
    else:
        assert not (tmp_path / "out").exists()
    assert sorted(os.listdir(tmp_path)) == sorted({name, "out"} if case.exit_code == 0 else {name})


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
    assert "from dkgen:bases/default.yaml, ../link.yaml." in Path("out/cluster.sh").read_text()


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
        "../prod: error: no such file\n"
        "  hint: did you mean the shipped overlay `--overlay prod`?\n",
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
