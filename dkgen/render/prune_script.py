"""``prune.sh``: deletes this cluster's custom resources of kinds the build does not generate.

The documented ``kubectl apply --prune`` cannot name a custom kind whose API
the cluster may not serve: kubectl refuses the whole command then
(``dkgen/render/kustomization.py`` says why). So an earlier build's
ScaledObject, after adaptive scaling was turned off, or its PodMonitoring,
after monitoring was, would stay and keep acting. This script, run after
the apply, deletes them: for every custom kind dkgen can generate and this
build does not, it asks the cluster whether it serves the kind (``kubectl
api-resources``, which fails the script when the cluster cannot be read:
a failed read is never taken for "not served") and, where it does, deletes
the objects of that kind carrying this cluster's labels in its namespace.
A kind the cluster does not serve has no objects left to delete. The list
is every such kind, not a history of earlier builds, so the output stays a
function of the settings alone.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from dkgen.render.common import KubeObject
from dkgen.render.kustomization import custom_kinds_not_generated, prune_selector
from dkgen.settings import Settings

SCRIPT_NAME = "prune.sh"

_BODY = """\
set -euo pipefail

# prune KIND RESOURCE GROUP: delete this cluster's objects of RESOURCE where served.
prune() {
  local served
  # Fails (and so stops the script) when the cluster cannot be read.
  served=$(kubectl api-resources --api-group="$3" -o name)
  if grep -qxF "$2" <<<"$served"; then
    kubectl delete "$2" --namespace "$namespace" -l "$selector" --ignore-not-found
  else
    echo "prune.sh: $1: not served by this cluster (no $2 API), so none to delete"
  fi
}
"""


def render_prune_script(settings: Settings, objects: Sequence[KubeObject], header: str) -> str:
    kinds = custom_kinds_not_generated(objects)
    lines = [
        "#!/usr/bin/env bash",
        header,
        "#",
        "# Run after the documented kubectl apply (README.md): deletes this cluster's",
        "# custom resources of kinds this build does not generate, which the apply's",
        "# --prune cannot name (kubectl refuses a kind the cluster does not serve).",
        _BODY,
        f"namespace={shlex.quote(settings.namespace)}",
        f"selector={shlex.quote(prune_selector(settings))}",
        "",
    ]
    lines += [
        f"prune {k.kind} {shlex.quote(k.resource)} {shlex.quote(k.group)}" for k in kinds
    ] or ["echo 'prune.sh: this build generates every custom kind dkgen knows; none to prune'"]
    return "\n".join(lines) + "\n"
