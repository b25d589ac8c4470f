"""Benchmark dkgen side by side with ``kubectl kustomize``: one command, one table.

    python benchmarks/run.py            # the full run (about 8 minutes on 2 cores)
    python benchmarks/run.py --quick    # a smoke run of every measurement (seconds)
    python benchmarks/run.py --one-cluster 30   # only the cold build vs kustomize

Run it with the Python of the environment whose ``dkgen`` you want to
measure (``.venv/bin/python benchmarks/run.py``): the ``dkgen`` script
beside that interpreter is what it times, as a user's shell would start it.

What it measures, all in one run, so the ratios compare like with like:

* one cluster: a cold ``dkgen build settings.yaml -o OUT`` (the shipped
  example, a fresh output directory each time) against ``kubectl kustomize``
  of that same output, and ``dkgen check`` of an up-to-date output against
  the build;
* fleets of 10, 100 and 1,000 generated clusters: one ``dkgen build --each``
  process (a fresh output root each time) against ``kubectl kustomize`` run
  once per cluster directory, as a user would, with the time per cluster and
  the peak RSS of each side, and ``dkgen check --each`` on the result;
* in-process ``compile_layers()`` throughput, in clusters per second.

Each comparison runs in rounds; in every round each command runs once, in
an order that rotates from round to round, so a change in the machine's load
hits both sides alike. The table reports medians and the median of the
per-round ratios. Peak RSS is the child's own ``ru_maxrss`` (``os.wait4``).

The table goes to stdout and to ``benchmarks/results.md`` (``--results``).
Nothing here asserts anything about time: the targets are printed with
how far each is met or missed, and the run exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "settings.yaml"
MIB = 1024 * 1024

# kubectl resolves no cluster for `kustomize`, but some kubectl builds (the
# gcloud SDK's dispatcher) look for a kubeconfig first; point it nowhere so
# nothing outside the build is read.
KUBECTL_ENV = {**os.environ, "KUBECONFIG": os.devnull}


@dataclass(frozen=True)
class Sample:
    """One timed process (or loop of processes): wall seconds, peak RSS in
    bytes, and CPU seconds (user + system), which a loaded machine disturbs
    less than the wall time."""

    seconds: float
    peak_rss: int
    cpu: float = 0.0


@dataclass
class Series:
    """The samples of one command over all rounds."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak_rss(self) -> int:
        return max(s.peak_rss for s in self.samples)

    @property
    def median_cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)


def ratios(a: Series, b: Series) -> float:
    """Median of the per-round ratios a/b."""
    return statistics.median(
        x.seconds / y.seconds for x, y in zip(a.samples, b.samples, strict=True)
    )


def cpu_ratios(a: Series, b: Series) -> float:
    """Median of the per-round ratios of CPU time (user + system) a/b."""
    return statistics.median(x.cpu / y.cpu for x, y in zip(a.samples, b.samples, strict=True))


# ---------------------------------------------------------------- processes


def run_process(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Sample:
    """Run ``args`` to completion; its wall time and its own peak RSS.

    ``os.wait4`` reports the rusage of exactly this child, so the peak is
    the process's own, not the largest of every child so far.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace")
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{message}")
    # ru_maxrss is in KiB on Linux.
    return Sample(elapsed, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime)


def dkgen_command() -> list[str]:
    """The ``dkgen`` script of this interpreter's environment (what a user runs)."""
    script = Path(sys.executable).parent / "dkgen"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "dkgen"]


def kubectl() -> str | None:
    return shutil.which("kubectl")


def kustomize(directory: Path) -> Sample:
    tool = kubectl()
    assert tool is not None
    return run_process([tool, "kustomize", str(directory)], directory.parent, KUBECTL_ENV)


def kustomize_each(root: Path) -> Sample:
    """``kubectl kustomize`` once per cluster directory, one after another."""
    started = time.perf_counter()
    peak, cpu = 0, 0.0
    for directory in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        sample = kustomize(directory)
        peak, cpu = max(peak, sample.peak_rss), cpu + sample.cpu
    return Sample(time.perf_counter() - started, peak, cpu)


def clear(directory: Path) -> None:
    """Remove a previous output, and let the file system settle before the
    next timed build: deleting a thousand directories leaves journal work
    that would otherwise land on whatever writes next."""
    shutil.rmtree(directory, ignore_errors=True)
    os.sync()


def rounds(count: int, steps: Sequence[Callable[[], None]]) -> None:
    """Run every step once per round, rotating which one goes first."""
    for index in range(count):
        shift = index % len(steps)
        for step in (*steps[shift:], *steps[:shift]):
            step()


# ---------------------------------------------------------------- fleets


ZONES = ("europe-west4-a", "us-central1-a", "us-east1-b", "asia-northeast1-a")


def fleet_settings(index: int) -> str:
    """A realistic, valid, warning-free settings file for cluster ``index``:
    the shipped example's shape with per-cluster names, zones and sizes."""
    workers = 2 + index % 9
    return (
        "cluster:\n"
        f"  name: team-{index:04d}\n"
        f"  project: data-project-{index % 17}\n"
        f"  zone: {ZONES[index % len(ZONES)]}\n"
        "  machine_type: n2-standard-8\n"
        "  autoscaling: true\n"
        "  min_nodes: 1\n"
        "  max_nodes: 10\n"
        "workers:\n"
        f"  count: {workers}\n"
        "  cpus_per_worker: 3.5\n"
        f"  memory_per_worker: {10 + index % 3}Gi\n"
        "  env:\n"
        f'    TEAM: "{index:04d}"\n'
        "jupyter:\n"
        f"  enabled: {'false' if index % 5 == 4 else 'true'}\n"
        "gcs:\n"
        "  buckets:\n"
        f"    - name: team-{index:04d}-data\n"
        "      access: read\n"
    )


def write_fleet_settings(directory: Path, count: int) -> None:
    directory.mkdir(parents=True)
    for index in range(count):
        (directory / f"team-{index:04d}.yaml").write_text(fleet_settings(index), encoding="utf-8")


# ---------------------------------------------------------------- throughput

THROUGHPUT_CODE = """
import json, sys, time
from pathlib import Path
from dkgen.compiler import compile_layers
from dkgen.load import load_layer

paths = sorted(Path(sys.argv[1]).glob("*.yaml"))
seconds = float(sys.argv[2])
started = time.perf_counter()
layers = [load_layer(p, p.name) for p in paths]
parse = (time.perf_counter() - started) / len(paths)
compile_layers(layers[:1])  # the schema validator and default base, once
compiled = 0
started = time.perf_counter()
while True:
    for layer in layers:
        compile_layers([layer])
        compiled += 1
    elapsed = time.perf_counter() - started
    if elapsed >= seconds:
        break
print(json.dumps({"clusters": compiled, "seconds": elapsed, "parse": parse}))
"""


def throughput(settings_dir: Path, seconds: float) -> dict[str, float]:
    # Run beside the settings, not in the checkout: `python -c` puts the
    # working directory first on sys.path, and the dkgen measured must be the
    # installed one, as for the commands.
    result = subprocess.run(
        [sys.executable, "-c", THROUGHPUT_CODE, str(settings_dir), str(seconds)],
        cwd=settings_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    body: dict[str, float] = json.loads(result.stdout)
    return body


# ---------------------------------------------------------------- the run


@dataclass
class Results:
    """Everything one run measured, for the table."""

    one: dict[str, Series] = field(default_factory=dict)
    one_rounds: int = 0
    fleets: dict[int, dict[str, Series]] = field(default_factory=dict)
    fleet_rounds: int = 0
    rate: dict[str, float] = field(default_factory=dict)


def measure_one_cluster(work: Path, count: int, results: Results) -> None:
    """Cold build vs kustomize of its output vs check of an up-to-date output."""
    dkgen = dkgen_command()
    shutil.copy(EXAMPLE, work / "settings.yaml")
    run_process([*dkgen, "build", "settings.yaml", "-o", "ref"], work)
    build, check, kust = Series("dkgen build"), Series("dkgen check"), Series("kubectl kustomize")
    fresh = work / "fresh"

    def do_build() -> None:
        clear(fresh)
        build.samples.append(run_process([*dkgen, "build", "settings.yaml", "-o", "fresh"], work))

    def do_check() -> None:
        check.samples.append(run_process([*dkgen, "check", "settings.yaml", "-o", "ref"], work))

    steps = [do_build, do_check]
    if kubectl():
        steps.append(lambda: kust.samples.append(kustomize(work / "ref")))
    rounds(count, steps)
    results.one = {"build": build, "check": check}
    if kust.samples:
        results.one["kustomize"] = kust
    results.one_rounds = count


def measure_fleet(work: Path, size: int, count: int, results: Results) -> None:
    """One ``build --each`` process vs kustomize per directory, and ``check --each``."""
    dkgen = dkgen_command()
    settings = work / f"fleet-{size}"
    write_fleet_settings(settings, size)
    out = work / f"out-{size}"
    args = [*dkgen, "build", settings.name, "-o", out.name, "--each"]
    build, check, kust = Series("build --each"), Series("check --each"), Series("kustomize")

    def do_build() -> None:
        clear(out)
        build.samples.append(run_process(args, work))

    def do_check() -> None:
        check.samples.append(
            run_process([*dkgen, "check", settings.name, "-o", out.name, "--each"], work)
        )

    run_process(args, work)
    steps = [do_build, do_check]
    if kubectl():
        steps.append(lambda: kust.samples.append(kustomize_each(out)))
    rounds(count, steps)
    results.fleets[size] = {"build": build, "check": check}
    if kust.samples:
        results.fleets[size]["kustomize"] = kust
    results.fleet_rounds = count
    shutil.rmtree(out)


# ---------------------------------------------------------------- the table


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def mib(size: int) -> str:
    return f"{size / MIB:.0f} MiB"


def verdict(value: float, limit: float, unit: str = "") -> str:
    """``met`` with its margin, or by how much ``value`` misses ``limit``."""
    if value <= limit:
        return f"met ({value:.2f}{unit} ≤ {limit:g}{unit})"
    return f"**missed** by {value / limit:.2f}× ({value:.2f}{unit} > {limit:g}{unit})"


def versions() -> list[str]:
    lines = [f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()}"]
    found = subprocess.run(
        [*dkgen_command(), "--version"], capture_output=True, text=True, check=False
    )
    lines.append(found.stdout.strip())
    if kubectl():
        client = subprocess.run(
            [kubectl() or "kubectl", "version", "--client"],
            capture_output=True,
            text=True,
            env=KUBECTL_ENV,
            check=False,
        )
        lines.extend(line.strip() for line in client.stdout.splitlines() if line.strip())
    else:
        lines.append("kubectl not found: the kustomize columns are empty")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines.append(f"load average at start: {load:.2f}")
    return lines


def table(results: Results, header: Sequence[str]) -> str:
    out = ["# dkgen benchmark", "", *(f"- {line}" for line in header), ""]
    one = results.one
    out += [
        f"## One cluster (`examples/settings.yaml`), {results.one_rounds} rounds",
        "",
        "| command | median | CPU (user+sys) | peak RSS | ratio (median of per-round ratios) "
        "| CPU ratio |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    kust = one.get("kustomize")
    build_ratio = ratios(one["build"], kust) if kust else None
    check_ratio = ratios(one["check"], one["build"])
    build = one["build"]
    out.append(
        f"| `dkgen build settings.yaml -o OUT` (fresh OUT) | {ms(build.median_seconds)} "
        f"| {ms(build.median_cpu)} | {mib(build.peak_rss)} | "
        + (f"{build_ratio:.2f}× kustomize" if build_ratio is not None else "—")
        + " | "
        + (f"{cpu_ratios(build, kust):.2f}× kustomize" if kust else "—")
        + " |"
    )
    if kust:
        out.append(
            f"| `kubectl kustomize OUT` | {ms(kust.median_seconds)} | {ms(kust.median_cpu)} "
            f"| {mib(kust.peak_rss)} | 1 | 1 |"
        )
    check = one["check"]
    out.append(
        f"| `dkgen check settings.yaml -o OUT` (up to date) | {ms(check.median_seconds)} "
        f"| {ms(check.median_cpu)} | {mib(check.peak_rss)} | {check_ratio:.2f}× build "
        f"| {cpu_ratios(check, build):.2f}× build |"
    )
    if not results.fleets:
        return "\n".join(out) + "\n"
    out += [
        "",
        f"## Fleets, {results.fleet_rounds} rounds per size",
        "",
        "| clusters | `build --each` | per cluster | peak RSS | kustomize, one per dir "
        "| per cluster | build / kustomize | `check --each` |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, series in sorted(results.fleets.items()):
        build = series["build"]
        kust_each = series.get("kustomize")
        cells = [
            f"{size:,}",
            f"{build.median_seconds:.2f} s",
            ms(build.median_seconds / size),
            mib(build.peak_rss),
            f"{kust_each.median_seconds:.2f} s" if kust_each else "—",
            ms(kust_each.median_seconds / size) if kust_each else "—",
            f"{ratios(build, kust_each):.3f}×" if kust_each else "—",
            f"{series['check'].median_seconds:.2f} s",
        ]
        out.append("| " + " | ".join(cells) + " |")
    rate = results.rate
    out += [
        "",
        "## Library",
        "",
        f"`compile_layers()` in one process: **{rate['clusters'] / rate['seconds']:.0f} "
        f"clusters/s** ({rate['clusters']:.0f} clusters in {rate['seconds']:.1f} s; "
        f"parsing a settings file: {rate['parse'] * 1000:.2f} ms).",
        "",
        "## Targets",
        "",
        "| target | result |",
        "| --- | --- |",
    ]
    out.append(
        "| cold build ≤ 1.0× kustomize | "
        + (verdict(build_ratio, 1.0, "×") if build_ratio is not None else "no kubectl")
        + " |"
    )
    sizes = sorted(results.fleets)
    largest = sizes[-1]
    big = results.fleets[largest]
    if "kustomize" in big:
        out.append(
            f"| fleet of {largest:,}: build ≤ 0.2× kustomize | "
            + verdict(ratios(big["build"], big["kustomize"]), 0.2, "×")
            + " |"
        )
    if len(sizes) > 1:
        previous = sizes[-2]
        growth = big["build"].median_seconds / results.fleets[previous]["build"].median_seconds
        scale = largest / previous
        out.append(
            f"| time({largest:,}) / time({previous:,}) ≤ {1.1 * scale:g} (near-linear) | "
            + verdict(growth, 1.1 * scale)
            + " |"
        )
    out.append(
        f"| peak RSS, one cluster ≤ 80 MiB | {verdict(one['build'].peak_rss / MIB, 80, ' MiB')} |"
    )
    out.append(
        f"| peak RSS, fleet of {largest:,} ≤ 300 MiB | "
        + verdict(big["build"].peak_rss / MIB, 300, " MiB")
        + " |"
    )
    out.append(f"| check ≤ build | {verdict(check_ratio, 1.0, '×')} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes, 2 rounds")
    parser.add_argument(
        "--results", type=Path, default=HERE / "results.md", help="where to write the table"
    )
    parser.add_argument(
        "--one-cluster",
        type=int,
        metavar="ROUNDS",
        help="only the one-cluster comparison (start-up work), in ROUNDS rounds",
    )
    args = parser.parse_args(argv)
    one_rounds, fleet_rounds = (2, 1) if args.quick else (10, 3)
    sizes: tuple[int, ...] = (2, 5) if args.quick else (10, 100, 1000)
    if args.one_cluster:
        one_rounds, sizes = args.one_cluster, ()
    header = versions()
    results = Results()
    with tempfile.TemporaryDirectory(prefix="dkgen-bench-") as name:
        work = Path(name)
        print(f"one cluster, {one_rounds} rounds ...", file=sys.stderr)
        measure_one_cluster(work, one_rounds, results)
        for size in sizes:
            print(f"fleet of {size}, {fleet_rounds} rounds ...", file=sys.stderr)
            measure_fleet(work, size, fleet_rounds, results)
        if sizes:
            print("compile_layers throughput ...", file=sys.stderr)
            results.rate = throughput(work / f"fleet-{sizes[-1]}", 0.2 if args.quick else 5.0)
    text = table(results, header)
    print(text, end="")
    args.results.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
