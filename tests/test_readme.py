"""The README's commands, as they stand, work (issue 17, item 7).

Every ``dkgen`` command in the README's ``sh`` blocks names a real command
and real options; and, in README order, in a fresh folder laid out like a
checkout, every one that needs no cloud runs and succeeds (``check`` may
exit 1: it reports differences). The block that starts a cluster's own
repository and reviews its first build runs as written, by bash, beside a
checkout whose ``.gitignore`` ignores ``out/`` (issue 24, item 1): the
review must show the new files and commit them.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from dkgen.cli import cli
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
DKGEN = ("dkgen", ".venv/bin/dkgen")


def shell_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


def commands(*, skip_review: bool = False) -> list[list[str]]:
    """Every command of every sh block, split into words, comments dropped
    (``skip_review``: not the review block, which runs in a repository of its
    own, ``../my-cluster``; test_the_review_steps_run_as_written runs it)."""
    found = []
    for block in shell_blocks():
        if skip_review and "git init" in block:
            continue
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words:
                end = words.index("&&") if "&&" in words else len(words)
                found.append(words[:end])
                words = words[end + 1 :]
    return found


DKGEN_COMMANDS = [words for words in commands() if words and words[0] in DKGEN]


def test_the_readme_has_dkgen_commands() -> None:
    assert len(DKGEN_COMMANDS) > 15


@pytest.mark.parametrize("words", DKGEN_COMMANDS, ids=" ".join)
def test_every_command_and_option_exists(words: list[str]) -> None:
    args = words[1:]
    if args[:1] == ["--version"]:
        return
    command = cli.commands.get(args[0])
    assert command is not None, f"no command {args[0]!r}"
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in args[1:]:
        if word.startswith("-") and word != "-":
            assert word.split("=", 1)[0] in options, f"{args[0]} has no option {word}"
    for param in command.params:  # a choice the README gives must be allowed
        if isinstance(param.type, click.Choice):
            for name in param.opts:
                values = [args[i + 1] for i, w in enumerate(args[:-1]) if w == name]
                assert set(values) <= set(param.type.choices), (name, values)


def test_no_install_from_a_package_index_and_no_missing_tag() -> None:
    """dkgen is not on an index, and has no tags: the README says how to pin a commit."""
    assert "dkgen==" not in README
    revs = re.findall(r"^\s*rev: (\S+)", README, flags=re.MULTILINE)
    assert revs and all(re.fullmatch(r"[0-9a-f]{40}", rev) for rev in revs), revs
    assert "git add -N out/" in README


def offline(words: list[str]) -> bool:
    """A dkgen command that names no placeholder (KEY, SETTINGS..., <...>)."""
    return not any(re.search(r"[<>]\w|\.\.\.|\bKEY\b|\[", w) for w in words[1:] if w != ">")


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git checkout with the shipped examples and the repository's
    ``.gitignore`` (which ignores ``out/``), and a clusters/ folder of the
    examples for the fleet commands; its parent is free for the user's own
    repository (``../my-cluster``)."""
    root = tmp_path / "dkgen"
    shutil.copytree(REPO / "examples", root / "examples")
    shutil.copytree(REPO / "examples", root / "clusters")
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    monkeypatch.chdir(root)
    subprocess.run(["git", "init", "-q"], check=True)
    return root


def run_readme_command(words: list[str], run_dkgen: Any) -> None:
    args = words[1:]
    redirect = None
    if ">" in args:
        redirect = Path(args[args.index(">") + 1])
        args = args[: args.index(">")]
    # The shell would expand clusters/*.yaml.
    args = [part for word in args for part in (sorted(glob.glob(word)) if "*" in word else [word])]
    result = run_dkgen(*args)
    allowed = (0, 1) if args[:1] == ["check"] else (0,)
    assert result.exit_code in allowed, f"{shlex.join(words)}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    if redirect is not None:
        redirect.write_text(result.stdout, encoding="utf-8")


def test_the_readmes_commands_run_in_order(checkout: Path, run_dkgen: Any) -> None:
    ran = 0
    for words in commands(skip_review=True):
        if not words:
            continue
        if words[0] in DKGEN and offline(words):
            run_readme_command(words, run_dkgen)
            ran += 1
    assert ran > 15
    assert (checkout / "settings.yaml").is_file()
    assert (checkout / "dkgen.schema.json").stat().st_size > 0


def test_the_readmes_dkgen_is_the_console_script_beside_python() -> None:
    """The README runs ``.venv/bin/dkgen``: the console script pip installs
    beside the environment's ``python``. The other tests start the running
    interpreter's dkgen (``sys.executable -m dkgen``), so the suite passes
    from any environment (tox, nox, an IDE's); this one checks the script the
    README names, in whichever environment runs the tests."""
    assert ".venv/bin/dkgen build examples/settings.yaml" in README
    script = Path(sys.executable).parent / "dkgen"
    if not script.is_file():
        pytest.skip(f"{sys.executable} has no dkgen console script beside it")
    done = subprocess.run(
        [script, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dkgen, version ")


def review_block() -> str:
    """The README's block that starts a cluster's repository and reviews its first build."""
    (block,) = [b for b in shell_blocks() if "git init" in b]
    return block


def test_the_review_steps_run_as_written(checkout: Path) -> None:
    """The block runs in bash, line by line as the README writes it, with the
    dkgen of the running interpreter on PATH (as `. .venv/bin/activate` puts it)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "Reviewer",
        "GIT_AUTHOR_EMAIL": "reviewer@example.com",
        "GIT_COMMITTER_NAME": "Reviewer",
        "GIT_COMMITTER_EMAIL": "reviewer@example.com",
    }
    # The checkout's own .gitignore hides out/ there: the review cannot happen in it.
    ignored = subprocess.run(["git", "check-ignore", "out/"], capture_output=True, check=False)
    assert ignored.returncode == 0
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", review_block()],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "out/" in done.stdout  # git status: the first build is untracked
    assert "+++ b/out/kustomization.yaml" in done.stdout  # git add -N && git diff
    repo = checkout.parent / "my-cluster"
    committed = subprocess.run(
        ["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "settings.yaml" in committed and "out/kustomization.yaml" in committed
    clean = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert clean.stdout == ""
