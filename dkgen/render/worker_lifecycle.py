"""How a worker pod leaves and what it may use: retire first, bounded scratch, no fatal probe.

The worker renderer (:mod:`dkgen.render.workers`) takes these pieces:

* **Retire before exit.** Whatever removes a worker pod (KEDA scaling down,
  a node drain, a GKE upgrade, a Spot preemption, a rollout), the kubelet
  first runs the preStop hook: it asks the scheduler to retire the pod's
  workers (found by their name, the pod's name, which ``--name`` gives them),
  so every result they hold is copied to the other workers before they
  close. SIGTERM follows; ``terminationGracePeriodSeconds``
  (:func:`dkgen.autoscaling.termination_grace_seconds`) bounds the whole.
* **Scratch.** /scratch is an emptyDir with a ``sizeLimit``; the container
  requests that much ephemeral storage plus /tmp's allowance, and Dask's
  ``max-spill`` stops spilling below it (:mod:`dkgen.scratch`).
* **No liveness probe.** A task that holds the GIL for minutes blocks the
  worker's event loop, and with it ``/health``: a liveness probe there would
  restart a busy worker and lose its results. A dead worker is handled
  without one: the container's main process is Dask's nanny, which restarts
  its worker process when that dies; when the nanny itself dies the
  container exits and the kubelet restarts it; a worker that stops
  heart-beating is restarted through its nanny by the scheduler after
  ``distributed.scheduler.worker-ttl`` (5 minutes by default). The readiness
  probe stays: it only marks the pod unready (no Service sends workers
  traffic).
"""

from __future__ import annotations

from typing import Any

from dkgen.render.common import scheduler_address
from dkgen.scratch import Scratch, format_size
from dkgen.settings import Settings, WorkerGroup

POD_NAME_ENV = "DKGEN_POD_NAME"
MAX_SPILL_ENV = "DASK_DISTRIBUTED__WORKER__MEMORY__MAX_SPILL"

# The preStop hook's program, run with the image's Python: retire this pod's
# workers (one, or one per GPU named <pod>-<i>) and close them once their
# results live elsewhere. The scheduler keeps a worker whose results have
# nowhere to go (no other worker), rather than lose them.
RETIRE_PROGRAM = """\
import os, sys
from distributed import Client
pod = os.environ["DKGEN_POD_NAME"]
with Client(sys.argv[1], timeout="10s") as client:
    workers = client.scheduler_info()["workers"]
    names = {address: str(worker["name"]) for address, worker in workers.items()}
    mine = [a for a, n in names.items() if n == pod or n.startswith(pod + "-")]
    client.retire_workers(mine, close_workers=True)
"""


def name_args() -> list[str]:
    """Workers named after their pod, so the hook and the autoscaler can find them."""
    return ["--name", f"$({POD_NAME_ENV})"]


def pod_name_env() -> dict[str, Any]:
    return {"name": POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}


def max_spill_env(group: WorkerGroup, scratch: Scratch) -> list[dict[str, Any]]:
    """Dask's max-spill, unless the group's env sets it itself."""
    if any(name == MAX_SPILL_ENV for name, _ in group.env):
        return []
    processes = group.pool.accelerator.count if group.dask_cuda and group.pool.accelerator else 1
    return [{"name": MAX_SPILL_ENV, "value": str(scratch.max_spill(processes))}]


def retire_hook(settings: Settings) -> dict[str, Any]:
    command = ["python", "-c", RETIRE_PROGRAM, scheduler_address(settings.scheduler.tcp_port)]
    return {"preStop": {"exec": {"command": command}}}


def scratch_volume(scratch: Scratch) -> dict[str, Any]:
    return {"name": "scratch", "emptyDir": {"sizeLimit": format_size(scratch.size)}}


def ephemeral_request(scratch: Scratch) -> str:
    return format_size(scratch.request)
