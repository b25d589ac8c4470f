"""A Dask scheduler preload: how many workers each worker group needs, for KEDA to read.

dkgen mounts this file and ``groups.json`` beside it into the scheduler pod
(ConfigMap ``dask-autoscaler``) when a worker group is adaptive, and starts
the scheduler with ``--preload <this file> --dkgen-autoscaler-address :PORT``.
It serves one read-only route on that port, apart from the dashboard (so a
dashboard load balancer never reaches it):

    GET /dkgen/v1/groups/<group>/target  ->  {"workers": N}

Each adaptive group's KEDA ScaledObject reads ``workers`` with its
``metrics-api`` trigger. Dask's own ``/api/v1/adaptive_target`` answers for
the whole cluster; this answers per group, by the rule README "Adaptive
scaling" documents:

* A task's *home* is the group that runs it: a task that asks for no worker
  resources belongs to the ``default`` group; one that asks for resources
  belongs to the first group (``default`` first, then by name) whose workers
  declare at least that much of each. A task no group can run has no home:
  it waits in Dask's no-worker state and scales nothing.
* A group needs enough workers for its home tasks (queued, waiting for a
  worker, or processing) to finish within ``distributed.adaptive.target-duration``
  by Dask's own duration estimates, never more than one thread per task and
  at least one worker while it has any (scale from zero);
* and enough to keep the data only its workers hold at no more than 60% of
  their memory limit, so scaling down never asks for fewer workers than the
  results need (the workers' preStop hook then moves those results first).

Runs inside the scheduler image: it imports only Dask, distributed and
tornado, never dkgen.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

import click
import dask.config
from dask.utils import parse_timedelta
from distributed import Scheduler
from distributed.scheduler import TaskState
from tornado.httpserver import HTTPServer
from tornado.web import Application, HTTPError, RequestHandler

CONFIG_FILE = Path(__file__).with_name("groups.json")
WORKER_PREFIX = "dask-worker-"
# Tasks read per request to estimate the queue; the rest count in proportion
# (Dask's own adaptive_target samples 100 the same way).
SAMPLE = 1000
# Share of the workers' memory limit their unique data may fill.
MEMORY_FILL = 0.6


@dataclass(frozen=True)
class Group:
    """One worker group as the build describes it (groups.json)."""

    name: str
    resources: Mapping[str, float]
    threads: int
    memory_limit: int

    def can_run(self, ts: TaskState) -> bool:
        needs = ts.resource_restrictions or {}
        return all(self.resources.get(name, 0) >= amount for name, amount in needs.items())


def load_groups(path: Path = CONFIG_FILE) -> list[Group]:
    """The groups in home order: ``default`` first, then by name."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [
        Group(g["name"], dict(g["resources"]), int(g["threads"]), int(g["memory_limit"]))
        for g in raw["groups"]
    ]


def home(ts: TaskState, groups: list[Group]) -> str | None:
    """The group that runs ``ts``, or None when no group can."""
    if not ts.resource_restrictions:
        return "default"
    return next((g.name for g in groups if g.can_run(ts)), None)


def group_of(worker_name: object, groups: Iterable[Group]) -> str | None:
    """A worker's group, from its name: the pod name ``dask-worker-<group>-<hash>-<id>``
    (``--name`` in the worker's args), the longest group name that fits."""
    name = str(worker_name)
    fits = [g.name for g in groups if name.startswith(f"{WORKER_PREFIX}{g.name}-")]
    return max(fits, key=len, default=None)


def target(scheduler: Scheduler, groups: list[Group], name: str) -> int:
    """How many workers group ``name`` needs now."""
    group = next(g for g in groups if g.name == name)
    duration = parse_timedelta(dask.config.get("distributed.adaptive.target-duration"))
    waiting_total = len(scheduler.queued) + len(scheduler.unrunnable)
    sample = list(islice(chain(scheduler.queued, scheduler.unrunnable), SAMPLE))
    scale = waiting_total / len(sample) if sample else 0.0
    waiting = [ts for ts in sample if home(ts, groups) == name]
    running = [
        ts for ws in scheduler.workers.values() for ts in ws.processing if home(ts, groups) == name
    ]
    tasks = len(waiting) * scale + len(running)
    occupancy = sum(scheduler._get_prefix_duration(ts.prefix) for ts in waiting) * scale
    occupancy += sum(scheduler._get_prefix_duration(ts.prefix) for ts in running)
    compute = 0
    if tasks:
        threads = min(tasks, math.ceil(occupancy / duration))
        compute = max(1, math.ceil(threads / group.threads))
    return max(compute, _workers_for_data(scheduler, groups, group))


def _workers_for_data(scheduler: Scheduler, groups: list[Group], group: Group) -> int:
    members = {ws for ws in scheduler.workers.values() if group_of(ws.name, groups) == group.name}
    unique: dict[Any, int] = {}
    for ws in members:
        for ts in ws.has_what:
            if ts.who_has and ts.who_has <= members:
                unique[ts.key] = ts.nbytes
    held = sum(unique.values())
    if not held:
        return 0
    return max(1, math.ceil(held / (MEMORY_FILL * group.memory_limit)))


class GroupTargetHandler(RequestHandler):
    """``GET /dkgen/v1/groups/<group>/target``: ``{"workers": N}``, KEDA's metric."""

    def initialize(self, scheduler: Scheduler, groups: list[Group]) -> None:
        self.scheduler = scheduler
        self.groups = groups

    def get(self, name: str) -> None:
        if name not in {g.name for g in self.groups}:
            raise HTTPError(404, f"no worker group {name!r}")
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"workers": target(self.scheduler, self.groups, name)}))


def application(scheduler: Scheduler, groups: list[Group]) -> Application:
    kwargs = {"scheduler": scheduler, "groups": groups}
    return Application([(r"/dkgen/v1/groups/([a-z0-9-]+)/target", GroupTargetHandler, kwargs)])


def _parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "0.0.0.0", int(port)  # ":8788": every interface, as the dashboard's


@click.command()
@click.option("--dkgen-autoscaler-address", required=True, help="[host]:port to serve on")
def dask_setup(scheduler: Scheduler, dkgen_autoscaler_address: str) -> None:
    host, port = _parse_address(dkgen_autoscaler_address)
    server = HTTPServer(application(scheduler, load_groups()))
    server.listen(port, address=host)
    _SERVERS[id(scheduler)] = server


def dask_teardown(scheduler: Scheduler) -> None:
    server = _SERVERS.pop(id(scheduler), None)
    if server is not None:
        server.stop()


_SERVERS: dict[int, HTTPServer] = {}
