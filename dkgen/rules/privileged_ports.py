"""Ports below 1024 in containers that run as a non-root user.

Every dkgen container runs as uid 10001 with all capabilities dropped
(``render/common.py``), so it lacks ``CAP_NET_BIND_SERVICE``: binding a
port below 1024 fails unless the node's container runtime lowers
``net.ipv4.ip_unprivileged_port_start`` for the pod. The original tool's
announcement showed ``-s jupyter-port=443``; that builds, with this warning.
A Service port is the container port here (the runtime test relies on it),
so the fix is a port of 1024 or more; ``kubectl port-forward`` maps any
local port to it and a load balancer is reached on the Service's port.
"""

from __future__ import annotations

from collections.abc import Iterator

from dkgen.errors import Problem
from dkgen.keypath import Locator, format_path
from dkgen.settings import Settings

FIRST_UNPRIVILEGED_PORT = 1024


def check(settings: Settings, where: Locator) -> Iterator[Problem]:
    ports = {
        "scheduler.tcp_port": settings.scheduler.tcp_port,
        "scheduler.bokeh_port": settings.scheduler.dashboard_port,
    }
    if settings.jupyter.enabled:
        ports["jupyter.port"] = settings.jupyter.port
    for key, port in ports.items():
        if port >= FIRST_UNPRIVILEGED_PORT:
            continue
        path = where.path(None, key)
        yield Problem(
            where.origin(path),
            format_path(path),
            f"port {port} is privileged (below {FIRST_UNPRIVILEGED_PORT}), but the container "
            "runs as a non-root user without CAP_NET_BIND_SERVICE; it can bind the port only "
            "where the node's runtime lowers net.ipv4.ip_unprivileged_port_start",
            f"use a port of {FIRST_UNPRIVILEGED_PORT} or more (kubectl port-forward maps any "
            "local port to it)",
            severity="warning",
        )
