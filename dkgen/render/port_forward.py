"""The ``kubectl port-forward`` lines of the reviewer's README, one per endpoint.

Each forward listens on the same local port as the Service's, except where
that port is privileged (below 1024): a user's ``kubectl`` cannot bind it
without root, so the line maps a fixed unprivileged local port to it
(``8888:443``), and the README's URLs name the local port.
"""

from __future__ import annotations

from dkgen.render.common import SCHEDULER_SERVICE
from dkgen.settings import Settings

# Below this, binding a port needs root (or CAP_NET_BIND_SERVICE) on Linux and macOS.
FIRST_UNPRIVILEGED_PORT = 1024
# Local ports used instead of a privileged Service port: the ones people know.
SCHEDULER_LOCAL_PORT = 8786
DASHBOARD_LOCAL_PORT = 8787
JUPYTER_LOCAL_PORT = 8888


def local_port(remote: int, fallback: int) -> int:
    """The remote port itself when a user may bind it, else ``fallback``."""
    return remote if remote >= FIRST_UNPRIVILEGED_PORT else fallback


def port_forwards(settings: Settings) -> list[tuple[str, int, int, str]]:
    """(target, local port, remote port, what it is for) per forwarded endpoint."""
    scheduler = settings.scheduler
    service = f"service/{SCHEDULER_SERVICE}"
    dashboard = local_port(scheduler.dashboard_port, DASHBOARD_LOCAL_PORT)
    client = local_port(scheduler.tcp_port, SCHEDULER_LOCAL_PORT)
    forwards = [
        (service, dashboard, scheduler.dashboard_port, f"dashboard: http://localhost:{dashboard}"),
        (service, client, scheduler.tcp_port, "scheduler, for a Dask client on your machine"),
    ]
    if settings.jupyter.enabled:
        jupyter = local_port(settings.jupyter.port, JUPYTER_LOCAL_PORT)
        forwards.append(
            (
                "service/jupyter",
                jupyter,
                settings.jupyter.port,
                f"Jupyter: http://localhost:{jupyter}/lab",
            )
        )
    return forwards
