"""Bounds: every single input is refused or built within 2 s of CPU and 256 MiB.

Each input is built by its own ``dkgen`` child process, forked from one that
has already imported dkgen's CLI and build (tests/forked_cli.py): a fresh
interpreter spent about 0.2 s of CPU importing them per input, 176 times.
``os.wait4`` returns that child's own resource usage. What is measured and
asserted:

* **CPU**: the child's user + system time, minus the same for a trivial
  valid input (the cheapest of three runs), so that only the input's cost
  counts (what it reads, checks, builds, and any module it makes dkgen
  import, such as ruamel.yaml for an alias). CPU time, not wall-clock time,
  so other work on the machine (these machines are shared) does not count
  against it.
* **Memory**: the child's peak resident set (``ru_maxrss``), all of it,
  interpreter and dkgen's modules included (a trivial build peaks at about
  22 MiB forked, 40 MiB cold: the import's own transient memory is gone).

A blow-up fails fast instead of hanging the suite: each child runs under
``RLIMIT_CPU`` and ``RLIMIT_AS`` (set in the child before it builds) far
above the bounds (20 s, 2 GiB), so a runaway input is killed by the kernel
and the test names it.

Inputs: every file of the adversarial corpus (tests/adversarial/), and the
worst cases of each documented limit, made at test time: 5,000 values
(plain, environment variables, unknown keys), a 1 MiB file of one string,
of comments, of blank lines, of brackets; long words that a pattern
search could scan quadratically; 200 patches; a 100 KB ``-s`` value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dkgen.limits import MAX_FILE_BYTES, MAX_VALUES
from tests.forked_cli import ForkedCli
from tests.test_adversarial import CORPUS, corpus_path

CPU_BOUND_S = 2.0
MEMORY_BOUND_MIB = 256
# Kernel limits per child: a runaway is killed long before it could hurt the machine.
KILL_CPU_S = 20
KILL_ADDRESS_SPACE = 2 * 1024**3


@dataclass(frozen=True)
class Usage:
    exit_code: int
    cpu_s: float
    maxrss_mib: float
    stderr: str


def run_child(args: list[str], cwd: Path) -> Usage:
    """``dkgen ARGS`` in a child process; its exit code and its own rusage."""
    result = ForkedCli.get().run(args, cwd, cpu_s=KILL_CPU_S, address_space=KILL_ADDRESS_SPACE)
    return Usage(
        exit_code=result["code"],
        cpu_s=result["cpu_s"],
        maxrss_mib=result["maxrss_kib"] / 1024,  # KiB on Linux
        stderr=(cwd / ".stderr").read_text(encoding="utf-8", errors="replace"),
    )


_BASELINE: list[float] = []


def baseline_cpu(tmp_path_factory: pytest.TempPathFactory) -> float:
    """CPU of a cold dkgen building a trivial valid file (cheapest of three)."""
    if not _BASELINE:
        runs = []
        for _ in range(3):
            work = tmp_path_factory.mktemp("baseline")
            (work / "s.yaml").write_text("cluster: {name: demo}\n")
            usage = run_child(["build", "s.yaml", "-o", "out"], work)
            assert usage.exit_code == 0, usage.stderr
            runs.append(usage.cpu_s)
        _BASELINE.append(min(runs))
    return _BASELINE[0]


NAME = "cluster:\n  name: demo\n"
LAST = MAX_VALUES - 20  # values the defaults and the name take leave this many


def _sized(head: str, filler: str, tail: str = "") -> str:
    """``head``, then ``filler`` repeated to just under the size limit."""
    room = MAX_FILE_BYTES - len(head) - len(tail) - 16
    return head + filler * (room // len(filler)) + tail


def _patches() -> str:
    one = (
        "  - target: {name: '.*'}\n"
        "    patch: [{op: add, path: /metadata/annotations, value: {x: y}}]\n"
    )
    return NAME + "patches:\n" + one * 200


GENERATED: dict[str, Callable[[], str]] = {
    "values-at-limit": lambda: (
        NAME + "dask_config:\n" + "".join(f"  k{i}: {i}\n" for i in range(LAST))
    ),
    "env-at-limit": lambda: (
        NAME + "workers:\n  env:\n" + "".join(f"    K{i}: v\n" for i in range(LAST))
    ),
    "unknown-keys-at-limit": lambda: (
        NAME + "jupyter:\n" + "".join(f"  k{i}: 1\n" for i in range(LAST))
    ),
    "wrong-types-at-limit": lambda: (
        NAME + "workers:\n  env:\n" + "".join(f"    K{i}: {i}\n" for i in range(LAST))
    ),
    "string-at-size-limit": lambda: _sized(NAME + "dask_config:\n  x: ", "a", "\n"),
    "url-like-words-at-size-limit": lambda: _sized(NAME + "dask_config:\n  x: '", "a:b@", "'\n"),
    "env-value-of-letters": lambda: NAME + "workers:\n  env:\n    A: " + "a" * 32_768 + "\n",
    "comments-at-size-limit": lambda: _sized(NAME, "#" + "c" * 78 + "\n"),
    "blank-lines-at-size-limit": lambda: _sized(NAME, "\n"),
    "brackets-at-size-limit": lambda: _sized(NAME + "dask_config: ", "["),
    "long-unknown-key": lambda: _sized(NAME + "jupyter:\n  ", "k", ": 1\n"),
    "two-hundred-patches": _patches,
    # A list filling the file: refused while read, not after (23 s, 611 MB once).
    "flat-list-at-size-limit": lambda: _sized(NAME + "dask_config:\n  x: [", "1, ", "1]\n"),
    "block-list-at-size-limit": lambda: _sized(NAME + "dask_config:\n  x:\n", "  - 1\n"),
    # What patches and aliases produce is bounded too (issue 23): sixteen JSON
    # 6902 copies, each doubling the pod template (two minutes and over a
    # gigabyte once), and a 32 KB string aliased a thousand times (31 MB).
    "json6902-copies-doubling": lambda: (
        NAME
        + "patches:\n  - target: {kind: Deployment, name: dask-scheduler}\n    patch:\n"
        + "      - {op: add, path: /spec/template/spec/x, value: [1]}\n"
        + "      - {op: copy, from: /spec/template, path: /spec/template/spec/x/-}\n" * 16
    ),
    "long-string-aliased-a-thousand-times": lambda: (
        NAME
        + "dask_config:\n  text: &long "
        + "a" * 32_768
        + "\n  again: ["
        + ", ".join(["*long"] * 1000)
        + "]\n"
    ),
    "long-string-aliased-in-a-patch": lambda: (
        NAME
        + "patches:\n  - target: {kind: ConfigMap}\n    patch:\n      data:\n"
        + "        a: &long "
        + "a" * 32_768
        + "\n"
        + "".join(f"        k{i}: *long\n" for i in range(1000))
    ),
    # Patch text is read within the settings' limits (41 s, 2.4 GB once).
    "patch-text-alias-bomb": lambda: (
        NAME
        + "patches:\n  - target: {kind: Deployment}\n    patch: |\n"
        + "      - &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"      - &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(12)
        )
    ),
}


def _corpus_case(name: str) -> Callable[[Path], list[str]]:
    def prepare(work: Path) -> list[str]:
        (work / name).write_bytes(corpus_path(name).read_bytes())
        return ["build", name, "-o", "out"]

    return prepare


def _generated_case(name: str) -> Callable[[Path], list[str]]:
    def prepare(work: Path) -> list[str]:
        (work / "s.yaml").write_text(GENERATED[name](), encoding="utf-8")
        return ["build", "s.yaml", "-o", "out"]

    return prepare


def _big_file(work: Path) -> list[str]:
    with open(work / "big.yaml", "wb") as handle:  # sparse
        handle.truncate(50 * 1024 * 1024)
    return ["build", "big.yaml", "-o", "out"]


def _long_override(work: Path) -> list[str]:
    (work / "s.yaml").write_text(NAME)
    return ["build", "s.yaml", "-o", "out", "-s", "dask_config.x=" + "a" * 100_000]


CASES: dict[str, Callable[[Path], list[str]]] = {
    **{f"corpus/{name}": _corpus_case(name) for name, _, _ in CORPUS},
    **{f"generated/{name}": _generated_case(name) for name in GENERATED},
    "generated/50-mb-file": _big_file,
    "generated/100-kb-override": _long_override,
    "generated/dev-zero": lambda work: ["build", "/dev/zero", "-o", "out"],
}


def test_generated_inputs_reach_their_limits() -> None:
    """The worst cases sit just inside the documented limits, or they prove less."""
    for name in ("string-at-size-limit", "comments-at-size-limit", "brackets-at-size-limit"):
        assert MAX_FILE_BYTES - 100 < len(GENERATED[name]().encode()) <= MAX_FILE_BYTES, name
    assert GENERATED["values-at-limit"]().count("\n") > MAX_VALUES - 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_input_within_bounds(
    case: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    args = CASES[case](tmp_path)
    usage = run_child(args, tmp_path)
    assert usage.exit_code in (0, 2), f"{case}: exit {usage.exit_code}\n{usage.stderr[-2000:]}"
    assert "Traceback" not in usage.stderr, usage.stderr[-2000:]
    cost = usage.cpu_s - baseline_cpu(tmp_path_factory)
    print(f"{case}: exit {usage.exit_code}, {cost:.2f} s CPU, {usage.maxrss_mib:.0f} MiB")
    assert cost <= CPU_BOUND_S, f"{case}: {cost:.2f} s of CPU beyond a trivial build"
    assert usage.maxrss_mib <= MEMORY_BOUND_MIB, f"{case}: peak {usage.maxrss_mib:.0f} MiB"
