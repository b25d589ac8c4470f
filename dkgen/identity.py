"""Which cluster and namespace an output directory manages, and refusing to change them.

``cluster.sh delete`` in an output directory is the only script that can
tear its cluster down. A build for another cluster (a changed
``cluster.name``, ``zone``/``region`` or ``project``, or another settings
file built into the same ``out/``) would overwrite that script: the old
cluster keeps running and billing, and no script knows it. A changed
``namespace`` would make the documented ``kubectl apply`` create everything
anew in the new namespace and leave the old Deployments running, and the
notebooks' claim, in the old one (kubectl prunes only where it applies).

So every build writes :data:`RECORD` (``dkgen-cluster.json``: project,
location, name and namespace; also the release channel, for the impact
report; deterministic bytes, no timestamp) and a build, or ``check``, whose
identity differs from the one recorded refuses with exit 2
(:func:`identity_problems`), naming the old and the new and saying how to
tear the old down first, unless ``--adopt`` is given. An output written by
a dkgen without the record is read for it (:func:`legacy_identity`):
``cluster.sh``'s ``cluster_name=`` line and its first ``--zone``/``--region``
and ``--project`` flags, and ``kustomization.yaml``'s ``namespace``, so an
upgrade is protected too. Pure: texts in, problems out.
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Callable, Iterable

import yaml

from dkgen.errors import Origin, Problem
from dkgen.records import dataclass
from dkgen.render.jupyter import HOME
from dkgen.render.jupyter_home import CLAIM_NAME
from dkgen.render.kustomization import NEVER_PRUNED, PRUNABLE_KINDS
from dkgen.settings import Settings

RECORD = "dkgen-cluster.json"
_ABOUT = (
    "The GKE cluster and namespace this directory manages. dkgen refuses to build "
    "another one into it (README.md, Day two); do not edit."
)


@dataclass(frozen=True)
class Identity:
    """What an output directory manages. ``project`` None: gcloud's default project."""

    name: str
    location: str
    project: str | None
    namespace: str
    release_channel: str | None = None

    @property
    def cluster(self) -> tuple[str, str, str | None]:
        return (self.name, self.location, self.project)

    def describe_cluster(self) -> str:
        project = f"project {self.project}" if self.project else "gcloud's default project"
        return f"{self.name} in {self.location} ({project})"


def identity_of(settings: Settings) -> Identity:
    cluster = settings.cluster
    return Identity(
        cluster.name, cluster.location, cluster.project, settings.namespace,
        cluster.release_channel,
    )  # fmt: skip


def record_text(settings: Settings) -> str:
    """The record's bytes: sorted keys, two-space indent, a final newline."""
    found = identity_of(settings)
    body = {
        "about": _ABOUT,
        "cluster": {"location": found.location, "name": found.name, "project": found.project},
        "namespace": found.namespace,
        "release_channel": found.release_channel,
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def parse_record(text: str) -> Identity | None:
    """The identity a record holds, or None when it is not one (edited into
    something else: the manifest's hand-edit check reports that)."""
    try:
        body = json.loads(text)
        cluster = body["cluster"]
        project = cluster["project"]
        channel = body.get("release_channel")
        return Identity(
            str(cluster["name"]),
            str(cluster["location"]),
            None if project is None else str(project),
            str(body["namespace"]),
            None if channel is None else str(channel),
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def legacy_identity(script: str | None, kustomization: str | None) -> Identity | None:
    """The identity an output without a record manages, read from the files an
    older dkgen wrote; None when they do not say (nothing to protect then)."""
    if script is None or kustomization is None:
        return None
    flags: dict[str, str] = {}
    name = None
    for line in script.splitlines():
        if line.startswith("cluster_name="):
            name = _words(line.removeprefix("cluster_name="))[:1]
            continue
        words = _words(line)
        for flag, value in itertools.pairwise(words):
            if flag in ("--zone", "--region", "--project") and not value.startswith("$"):
                # The first location flag is the cluster's (create, then the
                # node pools'); a zonal cluster's script may name a region later.
                flags.setdefault("location" if flag != "--project" else flag, value)
    try:
        namespace = yaml.safe_load(kustomization).get("namespace")
    except (yaml.YAMLError, AttributeError):
        return None
    location = flags.get("location")
    if not name or not location or not isinstance(namespace, str):
        return None
    return Identity(name[0], location, flags.get("--project"), namespace)


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line.rstrip().removesuffix("\\"), comments=True)
    except ValueError:
        return []


def previous_identity(read: Callable[[str], str | None]) -> Identity | None:
    """What the output directory manages now; ``read(name)`` returns a file's text or None."""
    record = read(RECORD)
    if record is not None:
        return parse_record(record)
    return legacy_identity(read("cluster.sh"), read("kustomization.yaml"))


def identity_problems(
    out: str, old: Identity | None, new: Identity, old_files: Iterable[str]
) -> list[Problem]:
    """The refusal of a build for ``new`` into ``out``, which manages ``old``.

    ``old_files``: the file names the directory's manifest lists (which
    kinds of objects, and whether a notebooks' claim, the old namespace holds)."""
    if old is None or (old.cluster, old.namespace) == (new.cluster, new.namespace):
        return []
    where = Origin(f"{out}/{RECORD}")
    adopt = "--adopt alone makes this directory manage the new one"
    if old.cluster != new.cluster:
        return [
            Problem(
                where,
                "cluster",
                f"this directory manages the GKE cluster {old.describe_cluster()}; this "
                f"build is for {new.describe_cluster()}: building it here would overwrite "
                "the only cluster.sh that can delete the old cluster, which would keep "
                "running (and billing)",
                f"tear the old cluster down first with the script still here: "
                f"`{out}/cluster.sh delete`, then build again with --adopt; or build into "
                f"a new directory (-o another-dir/); {adopt} and leaves the old cluster "
                "managed by no script",
            )
        ]
    return [
        Problem(
            where,
            "namespace",
            f"this directory manages namespace {old.namespace} of cluster {old.name}; this "
            f"build is for namespace {new.namespace}: kubectl apply would create everything "
            f"anew there and leave the old Deployments running in {old.namespace} (prune "
            f"never looks there){_claim_clause(old_files)}",
            _namespace_hint(out, old, old_files, adopt),
        )
    ]


def _claims(old_files: Iterable[str]) -> list[str]:
    prefix = "persistentvolumeclaim-"
    return sorted(f.removeprefix(prefix).removesuffix(".yaml") for f in old_files
                  if f.startswith(prefix))  # fmt: skip


def _claim_clause(old_files: Iterable[str]) -> str:
    claims = _claims(old_files)
    if not claims:
        return ""
    return f", with the notebooks' PersistentVolumeClaim {', '.join(claims)}"


def _namespace_hint(out: str, old: Identity, old_files: Iterable[str], adopt: str) -> str:
    files = list(old_files)
    prefixes = {f.split("-", 1)[0] for f in files}
    resources = ",".join(k.resource for k in PRUNABLE_KINDS if k.kind.lower() in prefixes)
    selector = f"app.kubernetes.io/instance={old.name},app.kubernetes.io/managed-by=dkgen"
    delete = (
        f"kubectl delete {resources} --namespace {old.namespace} -l {selector} --ignore-not-found"
    )
    claims = _claims(files)
    keep = ""
    if claims:
        keep = (
            f"; this keeps the claim {', '.join(claims)} (a claim cannot move between "
            f"namespaces: copy the notebooks out first, `kubectl --namespace {old.namespace} "
            f"cp <jupyter pod>:{HOME} ./notebooks`, and into the new Jupyter after "
            f"apply); never `kubectl delete namespace {old.namespace}` unless you mean to "
            f"delete the notebooks: it holds {CLAIM_NAME if CLAIM_NAME in claims else claims[0]}"
        )
    never = ", ".join(NEVER_PRUNED)
    return (
        f"first delete dkgen's objects in {old.namespace} (every kind but {never}) with "
        f"the old output still here: `{delete}`{keep}; then build again with --adopt; or "
        f"build into a new directory (-o another-dir/); {adopt}"
    )
