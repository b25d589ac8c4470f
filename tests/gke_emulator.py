"""A small, stateful emulator of the Google Cloud REST APIs that ``cluster.sh`` reaches.

The real, installed gcloud is pointed at it (``CLOUDSDK_API_ENDPOINT_OVERRIDES_*``,
see :meth:`GkeEmulator.gcloud_env`), so every request the script makes is the
one gcloud would send to Google: the test exercises gcloud's own request
building, operation polling and error handling, and judges the *state* left
here, not the command lines.

What it keeps and enforces (facts from gcloud 528's generated API messages,
``container_v1_messages.py``, and the APIs' reference):

* GKE (``container/v1``): clusters and their node pools under
  ``projects/P/locations/L``; create answers ALREADY_EXISTS (409) for a taken
  name, get/delete NOT_FOUND (404) for a missing one. Every mutation returns
  an Operation that is RUNNING until polled once at ``…/operations/ID``.
  ``PUT …/nodePools/NP`` takes only fields of ``UpdateNodePoolRequest`` (no
  ``spot``, no ``preemptible``, no ``oauthScopes``: those cannot change in
  place); ``PUT …/clusters/C`` takes ``{"update": ClusterUpdate}`` and the
  few ``desired*`` fields cluster.sh may send; ``:setResourceLabels`` checks
  the label fingerprint; ``:setSize`` and ``:setAutoscaling`` as documented.
* Compute (``compute/v1``): one managed instance group per node pool and zone,
  whose ``targetSize`` is the pool's node count in that zone.
* IAM (``iam/v1``): service accounts (409 on a taken ID, 404 on a missing
  email) and each account's IAM policy (``:getIamPolicy``/``:setIamPolicy``,
  with etags). ``propagation_delay`` makes a new account's policy calls
  answer NOT_FOUND that many times, as IAM's eventual consistency does.
* Cloud Storage JSON API: bucket IAM policies (``b/BUCKET/iam``).
* Service Usage: every API is ENABLED (``clusters create`` asks).
* GKE answers in proto3 JSON (:func:`proto3_json`): every field at its default
  is left out, as the real API does. Compute's batch requests (gcloud reads
  several zones in one) are answered part by part (:meth:`GkeEmulator.handle_batch`),
  so a fault can deny one zone while the others answer.
* Hardening (issue 21; its own section below, ``_hardening_routes``):
  Compute routers with their ``nats`` (a NAT is created, changed and
  removed by PATCHing its router), regional Compute operations, project IAM
  policies (``cloudresourcemanager`` ``:getIamPolicy``/``:setIamPolicy``),
  the DNS endpoint, ``privateClusterConfig`` and each pool's private-node
  setting that GKE returns, and GKE's refusal of a node service account that
  does not exist (on cluster and node-pool create).

``fail_next(method, pattern, status)`` injects a fault into the next matching
request; ``hold_next(method, pattern)`` keeps the next matching request
waiting until the test releases it (to interrupt a gcloud call
mid-request). ``requests`` logs every request; ``mutations()`` the
state-changing ones. A request the emulator does not know is answered 501 and recorded in
``unknown``, which tests assert empty.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SERVICES = ("CONTAINER", "COMPUTE", "IAM", "STORAGE", "SERVICEUSAGE", "CLOUDRESOURCEMANAGER")
REGION_ZONES = ("a", "b", "c")
# A held request (hold_next) is answered after this long even if never released.
HOLD_TIMEOUT_S = 60.0

# Fields UpdateNodePoolRequest has (container_v1_messages.py) that cluster.sh sends.
NODE_POOL_UPDATABLE = {
    "machineType": "machineType",
    "diskSizeGb": "diskSizeGb",
    "diskType": "diskType",
    "accelerators": "accelerators",
    "taints": "taints",
    "labels": "labels",
    "tags": "tags",
    "workloadMetadataConfig": "workloadMetadataConfig",
    "resourceLabels": "resourceLabels",
    "nodeNetworkConfig": "nodeNetworkConfig",
}
# The request's bookkeeping fields, not changes.
NODE_POOL_REQUEST_KEYS = {"name", "nodeVersion", "imageType", "etag", "projectId", "zone",
                          "clusterId", "nodePoolId"}  # fmt: skip
CLUSTER_UPDATABLE = {"desiredReleaseChannel", "desiredWorkloadIdentityConfig",
                     "desiredNodePoolAutoscaling", "desiredControlPlaneEndpointsConfig",
                     "desiredDefaultEnablePrivateNodes"}  # fmt: skip


STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ALREADY_EXISTS", 503: "UNAVAILABLE"}  # fmt: skip


def proto3_json(value: Any) -> Any:
    """``value`` as GKE sends it: proto3 JSON leaves out every field at its default
    (false, 0, "", an enum's ...UNSPECIFIED, empty lists and messages)."""
    if isinstance(value, dict):
        kept = {k: proto3_json(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if not _is_default(v)}
    if isinstance(value, list):
        return [proto3_json(v) for v in value]
    return value


def _is_default(value: Any) -> bool:
    if isinstance(value, str):
        return value == "" or value.endswith("UNSPECIFIED")
    return value is False or value == 0 or value in ([], {}) or value is None


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found.")


@dataclass
class Request:
    method: str
    path: str
    body: Any
    status: int = 0

    @property
    def mutating(self) -> bool:
        """State-changing requests: not reads, not IAM/policy reads, not polls."""
        if self.method == "GET":
            return False
        return not self.path.endswith((":getIamPolicy", "/operations", "/wait"))


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    code: int
    times: int


@dataclass
class Hold:
    """A request kept waiting (:meth:`GkeEmulator.hold_next`): ``arrived`` is set
    when it comes; it is answered once ``release`` is set."""

    method: str
    pattern: re.Pattern[str]
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    taken: bool = False


@dataclass
class State:
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: P/L/C
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: email
    account_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    bucket_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    instance_groups: dict[str, int] = field(default_factory=dict)  # "P/Z/NAME" -> size
    # Hardening (issue 21).
    routers: dict[str, dict[str, Any]] = field(default_factory=dict)  # "P/REGION/NAME"
    project_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: P


class GkeEmulator:
    """Start with :meth:`start`; point gcloud at it with :meth:`gcloud_env`."""

    def __init__(self, buckets: tuple[str, ...] = ()) -> None:
        self.state = State()
        for bucket in buckets:
            self.state.bucket_policies[bucket] = {"bindings": [], "etag": "CAE="}
        self.requests: list[Request] = []
        self.unknown: list[str] = []
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.propagation_delay = 0
        # Zones whose instance groups the caller is denied (see _list_groups).
        self.denied_zones: set[str] = set()
        self._pending_propagation: dict[str, int] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = []
        self._add_routes()

    # ------------------------------------------------------------ server

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GkeEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                content_type = "application/json; charset=UTF-8"
                if self.path.startswith("/batch/"):
                    code, data, content_type = emulator.handle_batch(raw)
                else:
                    code, payload = emulator.handle(self.command, self.path, raw)
                    data = json.dumps(payload).encode()
                # A client killed while its request was held is gone: no one to answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            # http.server dispatches on these names.
            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for hold in self.holds:
            hold.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def gcloud_env(self, home: Path) -> dict[str, str]:
        """Environment for the real gcloud: an empty config, a token, every API here.

        The proxies point at a closed loopback port, so a request to any other
        host fails instead of reaching the network.
        """
        config = home / "gcloud-config"
        config.mkdir(parents=True, exist_ok=True)
        token = home / "token"
        token.write_text("emulator-token\n")
        env = {
            "CLOUDSDK_CONFIG": str(config),
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(token),
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
            "KUBECONFIG": str(home / "kubeconfig"),
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "https_proxy": "http://127.0.0.1:9",
            "http_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
        for service in SERVICES:
            # Compute's real base ends in its version (compute/v1/), the others' do not.
            version = "v1/" if service == "COMPUTE" else ""
            env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{service}"] = (
                f"{self.base}/{service.lower()}/{version}"
            )
        return env

    def fail_next(self, method: str, pattern: str, code: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``pattern`` with an error."""
        self.faults.append(Fault(method, re.compile(pattern), code, times))

    def hold_next(self, method: str, pattern: str) -> Hold:
        """Keep the next request matching ``method`` and ``pattern`` waiting until
        the returned hold's ``release`` is set (a call caught in the middle, to
        signal or kill it there)."""
        hold = Hold(method, re.compile(pattern))
        with self._lock:
            self.holds.append(hold)
        return hold

    def _wait_if_held(self, method: str, path: str) -> None:
        with self._lock:
            hold = next((h for h in self.holds if not h.taken and h.method == method
                         and h.pattern.search(path)), None)  # fmt: skip
            if hold is not None:
                hold.taken = True
        if hold is not None:
            hold.arrived.set()
            hold.release.wait(HOLD_TIMEOUT_S)

    def mutations(self) -> list[Request]:
        return [r for r in self.requests if r.mutating and r.status < 400]

    def handle_batch(self, raw: bytes) -> tuple[int, bytes, str]:
        """A batch request (multipart/mixed of HTTP requests), as gcloud compute sends
        when it reads several zones: each part answered on its own, so one part
        can fail (a 403 on one zone) while the others succeed."""
        text = raw.decode()
        boundary = text.split("\n", 1)[0].strip()
        answers = []
        for part in text.split(boundary)[1:]:
            if part.strip() in ("", "--"):
                continue
            headers, _, request = part.lstrip("\r\n").partition("\n\n")
            content_id = re.search(r"Content-ID: <([^>]*)>", headers)
            request_line, _, rest = request.partition("\n")
            method, path, _ = request_line.split(" ", 2)
            body = rest.partition("\n\n")[2].strip().encode()
            code, payload = self.handle(method, path, body)
            answers.append(
                f"--batch\nContent-Type: application/http\n"
                f"Content-ID: <response-{content_id.group(1) if content_id else ''}>\n\n"
                f"HTTP/1.1 {code} {'OK' if code < 400 else 'Error'}\n"
                f"Content-Type: application/json; charset=UTF-8\n\n{json.dumps(payload)}\n"
            )
        data = ("".join(answers) + "--batch--\n").encode()
        return 200, data, "multipart/mixed; boundary=batch"

    def handle(self, method: str, raw_path: str, raw: bytes) -> tuple[int, Any]:
        path = urlsplit(raw_path).path
        query = parse_qs(urlsplit(raw_path).query)
        body = json.loads(raw) if raw else None
        self._wait_if_held(method, path)
        with self._lock:
            request = Request(method, path, body)
            self.requests.append(request)
            try:
                for fault in self.faults:
                    if fault.times and fault.method == method and fault.pattern.search(path):
                        fault.times -= 1
                        raise ApiError(
                            fault.code,
                            STATUS.get(fault.code, "UNAVAILABLE"),
                            f"injected fault ({fault.code})",
                        )
                for route_method, pattern, handler in self._routes:
                    match = pattern.fullmatch(path)
                    if route_method == method and match:
                        result = handler(*match.groups(), body=body, query=query)
                        request.status = 200
                        if path.startswith("/container/"):
                            result = proto3_json(result)
                        return 200, result
                self.unknown.append(f"{method} {path}")
                raise ApiError(501, "UNIMPLEMENTED", f"emulator: no route for {method} {path}")
            except ApiError as err:
                request.status = err.code
                return err.code, {
                    "error": {"code": err.code, "message": err.message, "status": err.status}
                }

    def _add_routes(self) -> None:
        loc = r"/container/v1/projects/([^/]+)/locations/([^/]+)"
        cluster = loc + r"/clusters/([^/:]+)"
        pool = cluster + r"/nodePools/([^/:]+)"
        iam = r"/iam/v1/projects/([^/]+)/serviceAccounts"
        self._routes = [
            ("GET", re.compile(r"/serviceusage/v1/projects/([^/]+)/services/([^/]+)"),
             self._service),
            ("GET", re.compile(loc + r"/clusters"), self._list_clusters),
            ("POST", re.compile(loc + r"/clusters"), self._create_cluster),
            ("GET", re.compile(cluster), self._get_cluster),
            ("PUT", re.compile(cluster), self._update_cluster),
            ("DELETE", re.compile(cluster), self._delete_cluster),
            ("POST", re.compile(cluster + ":setResourceLabels"), self._set_labels),
            ("GET", re.compile(cluster + r"/nodePools"), self._list_pools),
            ("POST", re.compile(cluster + r"/nodePools"), self._create_pool),
            ("GET", re.compile(pool), self._get_pool),
            ("PUT", re.compile(pool), self._update_pool),
            ("DELETE", re.compile(pool), self._delete_pool),
            ("POST", re.compile(pool + ":setSize"), self._set_size),
            ("POST", re.compile(pool + ":setAutoscaling"), self._set_autoscaling),
            ("GET", re.compile(loc + r"/operations/([^/]+)"), self._get_operation),
            ("GET", re.compile(r"/compute/v1/projects/([^/]+)/aggregated/instanceGroupManagers"),
             self._list_groups),
            ("GET", re.compile(r"/compute/v1/projects/([^/]+)/zones/([^/]+)"
                               r"/instanceGroupManagers/([^/]+)"), self._get_group),
            # gcloud's managed list also reads the zone's instance groups and autoscalers.
            ("GET", re.compile(r"/compute/v1/projects/([^/]+)/zones/([^/]+)/instanceGroups"),
             self._list_zone_groups),
            ("GET", re.compile(r"/compute/v1/projects/([^/]+)/aggregated/autoscalers"),
             lambda project, **_: {"items": {}}),
            ("GET", re.compile(r"/compute/v1/projects/([^/]+)/zones/([^/]+)/autoscalers"),
             lambda project, zone, **_: {"items": []}),
            ("GET", re.compile(iam), self._list_accounts),
            ("POST", re.compile(iam), self._create_account),
            ("GET", re.compile(iam + r"/([^/:]+)"), self._get_account),
            ("DELETE", re.compile(iam + r"/([^/:]+)"), self._delete_account),
            ("POST", re.compile(iam + r"/([^/:]+):getIamPolicy"), self._get_account_policy),
            ("POST", re.compile(iam + r"/([^/:]+):setIamPolicy"), self._set_account_policy),
            ("GET", re.compile(r"/storage/b/([^/]+)/iam"), self._get_bucket_policy),
            ("PUT", re.compile(r"/storage/b/([^/]+)/iam"), self._set_bucket_policy),
            *self._hardening_routes(),
        ]  # fmt: skip

    # ------------------------------------------------------------ helpers

    def _next_id(self) -> int:
        self._counter += 1
        return self._counter

    def _operation(self, project: str, location: str, kind: str, target: str) -> dict[str, Any]:
        name = f"operation-{self._next_id()}"
        op = {
            "name": name,
            "zone": location,
            "operationType": kind,
            "status": "RUNNING",
            "selfLink": f"{self.base}/container/v1/projects/{project}/locations/{location}"
            f"/operations/{name}",
            "targetLink": f"{self.base}/container/v1/{target}",
        }
        self.state.operations[f"{project}/{location}/{name}"] = op
        return copy.deepcopy(op)

    def _cluster(self, project: str, location: str, name: str) -> dict[str, Any]:
        try:
            return self.state.clusters[f"{project}/{location}/{name}"]
        except KeyError:
            raise not_found(f"Cluster {name!r}") from None

    def _pool(self, cluster: dict[str, Any], name: str) -> dict[str, Any]:
        for pool in cluster["nodePools"]:
            if pool["name"] == name:
                return pool
        raise not_found(f"Node pool {name!r}")

    def _zones(self, location: str) -> list[str]:
        # A location with two dashes is a zone (us-east1-b); else a region.
        if location.count("-") == 2:
            return [location]
        return [f"{location}-{z}" for z in REGION_ZONES]

    def _attach_groups(self, project: str, location: str, cluster: str, pool: dict[str, Any],
                       size: int) -> None:  # fmt: skip
        urls = []
        for zone in self._zones(location):
            name = f"gke-{cluster}-{pool['name']}-grp"
            self.state.instance_groups[f"{project}/{zone}/{name}"] = size
            urls.append(
                f"{self.base}/compute/v1/projects/{project}/zones/{zone}/instanceGroupManagers/{name}"
            )
        pool["instanceGroupUrls"] = urls
        pool["locations"] = self._zones(location)

    def _drop_groups(self, pool: dict[str, Any]) -> None:
        for url in pool.get("instanceGroupUrls", []):
            parts = url.split("/")
            self.state.instance_groups.pop(f"{parts[-5]}/{parts[-3]}/{parts[-1]}", None)

    def _new_pool(self, project: str, location: str, cluster: str,
                  spec: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        pool = copy.deepcopy(spec)
        pool["status"] = "RUNNING"
        # GKE's server-side defaults for what the request left out.
        pool.setdefault("version", "1.33.5-gke.1")
        config = pool.setdefault("config", {})
        config.setdefault("machineType", "e2-medium")
        config.setdefault("diskSizeGb", 100)
        config.setdefault("diskType", "pd-balanced")
        config.setdefault("imageType", "COS_CONTAINERD")
        self._attach_groups(project, location, cluster, pool, pool.get("initialNodeCount", 0))
        return pool

    def node_counts(self, project: str, location: str, cluster: str) -> dict[str, list[int]]:
        """Each pool's node count per zone (the instance groups' target sizes)."""
        found = self._cluster(project, location, cluster)
        counts: dict[str, list[int]] = {}
        for pool in found["nodePools"]:
            sizes = []
            for url in pool.get("instanceGroupUrls", []):
                parts = url.split("/")
                sizes.append(self.state.instance_groups[f"{parts[-5]}/{parts[-3]}/{parts[-1]}"])
            counts[pool["name"]] = sizes
        return counts

    # ------------------------------------------------------------ handlers

    def _service(self, project: str, service: str, **_: Any) -> Any:
        return {"name": f"projects/{project}/services/{service}", "state": "ENABLED"}

    def _list_clusters(self, project: str, location: str, **_: Any) -> Any:
        prefix = f"{project}/{location}/"
        found = [copy.deepcopy(c) for k, c in sorted(self.state.clusters.items())
                 if k.startswith(prefix) or location == "-"]  # fmt: skip
        return {"clusters": found} if found else {}

    def _create_cluster(self, project: str, location: str, *, body: Any, **_: Any) -> Any:
        spec = body["cluster"]
        key = f"{project}/{location}/{spec['name']}"
        if key in self.state.clusters:
            raise ApiError(409, "ALREADY_EXISTS", f"Already exists: {key}.")
        for pool_spec in spec.get("nodePools", []):
            self._check_node_account(pool_spec.get("config", {}))
        cluster = copy.deepcopy(spec)
        self._harden_cluster(cluster, location)
        cluster["location"] = location
        cluster["status"] = "RUNNING"
        cluster["endpoint"] = "127.0.0.2"
        cluster["masterAuth"] = {"clusterCaCertificate": "Q0EK"}
        version = spec.get("initialClusterVersion") or "1.33"
        cluster["currentMasterVersion"] = f"{version}.5-gke.1"
        cluster["currentNodeVersion"] = f"{version}.5-gke.1"
        cluster["labelFingerprint"] = f"fp{self._next_id()}"
        cluster["selfLink"] = f"{self.base}/container/v1/projects/{key}"
        cluster["nodePools"] = [
            self._new_pool(project, location, spec["name"], p) for p in spec.get("nodePools", [])
        ]
        for pool in cluster["nodePools"]:
            self._resolve_private_nodes(cluster, pool)
        self.state.clusters[key] = cluster
        return self._operation(project, location, "CREATE_CLUSTER", key)

    def _get_cluster(self, project: str, location: str, name: str, **_: Any) -> Any:
        return copy.deepcopy(self._cluster(project, location, name))

    def _update_cluster(self, project: str, location: str, name: str, *, body: Any,
                        **_: Any) -> Any:  # fmt: skip
        cluster = self._cluster(project, location, name)
        update = dict(body.get("update", {}))
        pool_name = update.pop("desiredNodePoolId", None)
        unknown = set(update) - CLUSTER_UPDATABLE
        if unknown or len(update) != 1:
            raise ApiError(400, "INVALID_ARGUMENT",
                           f"emulator: one update at a time, of {sorted(CLUSTER_UPDATABLE)}; "
                           f"got {sorted(update)}")  # fmt: skip
        if "desiredReleaseChannel" in update:
            channel = update["desiredReleaseChannel"].get("channel", "UNSPECIFIED")
            if channel == "UNSPECIFIED":
                cluster.pop("releaseChannel", None)
            else:
                cluster["releaseChannel"] = {"channel": channel}
        if "desiredNodePoolAutoscaling" in update:
            pool = self._pool(cluster, pool_name or "")
            autoscaling = update["desiredNodePoolAutoscaling"]
            if autoscaling.get("enabled"):
                pool["autoscaling"] = {k: autoscaling[k] for k in
                                       ("enabled", "minNodeCount", "maxNodeCount")}  # fmt: skip
            else:
                pool.pop("autoscaling", None)
        if "desiredWorkloadIdentityConfig" in update:
            cluster["workloadIdentityConfig"] = update["desiredWorkloadIdentityConfig"]
        self._update_hardening(cluster, update)
        return self._operation(project, location, "UPDATE_CLUSTER", f"{project}/{name}")

    def _delete_cluster(self, project: str, location: str, name: str, **_: Any) -> Any:
        cluster = self._cluster(project, location, name)
        for pool in cluster["nodePools"]:
            self._drop_groups(pool)
        del self.state.clusters[f"{project}/{location}/{name}"]
        return self._operation(project, location, "DELETE_CLUSTER", f"{project}/{name}")

    def _set_labels(self, project: str, location: str, name: str, *, body: Any,
                    **_: Any) -> Any:  # fmt: skip
        cluster = self._cluster(project, location, name)
        if body.get("labelFingerprint") != cluster["labelFingerprint"]:
            raise ApiError(400, "FAILED_PRECONDITION", "Labels fingerprint does not match.")
        cluster["resourceLabels"] = body.get("resourceLabels", {})
        if not cluster["resourceLabels"]:
            del cluster["resourceLabels"]
        cluster["labelFingerprint"] = f"fp{self._next_id()}"
        return self._operation(project, location, "SET_LABELS", f"{project}/{name}")

    def _list_pools(self, project: str, location: str, name: str, **_: Any) -> Any:
        return {"nodePools": copy.deepcopy(self._cluster(project, location, name)["nodePools"])}

    def _create_pool(self, project: str, location: str, name: str, *, body: Any,
                     **_: Any) -> Any:  # fmt: skip
        cluster = self._cluster(project, location, name)
        spec = body["nodePool"]
        if any(p["name"] == spec["name"] for p in cluster["nodePools"]):
            raise ApiError(409, "ALREADY_EXISTS", f"Node pool {spec['name']} already exists.")
        self._check_node_account(spec.get("config", {}))
        pool = self._new_pool(project, location, name, spec)
        self._resolve_private_nodes(cluster, pool)
        cluster["nodePools"].append(pool)
        return self._operation(project, location, "CREATE_NODE_POOL", f"{project}/{name}")

    def _get_pool(self, project: str, location: str, name: str, pool: str, **_: Any) -> Any:
        return copy.deepcopy(self._pool(self._cluster(project, location, name), pool))

    def _update_pool(self, project: str, location: str, name: str, pool_name: str, *,
                     body: Any, **_: Any) -> Any:  # fmt: skip
        pool = self._pool(self._cluster(project, location, name), pool_name)
        changes = {k: v for k, v in body.items() if k not in NODE_POOL_REQUEST_KEYS}
        unknown = set(changes) - set(NODE_POOL_UPDATABLE)
        if unknown:
            raise ApiError(400, "INVALID_ARGUMENT",
                           f"fields not updatable in place: {sorted(unknown)}")  # fmt: skip
        config = pool["config"]
        for key, value in changes.items():
            if key == "nodeNetworkConfig":
                self._update_pool_network(pool, value)
                continue
            if key == "taints":
                config["taints"] = value.get("taints", [])
            elif key == "tags":
                config["tags"] = value.get("tags", [])
            elif key in ("labels", "resourceLabels"):
                config[key] = value.get("labels", {})
            else:
                config[key] = value
            if config.get(key) in ([], {}):
                del config[key]
        return self._operation(project, location, "UPDATE_NODE_POOL", f"{project}/{pool_name}")

    def _delete_pool(self, project: str, location: str, name: str, pool_name: str,
                     **_: Any) -> Any:  # fmt: skip
        cluster = self._cluster(project, location, name)
        pool = self._pool(cluster, pool_name)
        self._drop_groups(pool)
        cluster["nodePools"].remove(pool)
        return self._operation(project, location, "DELETE_NODE_POOL", f"{project}/{pool_name}")

    def _set_size(self, project: str, location: str, name: str, pool_name: str, *,
                  body: Any, **_: Any) -> Any:  # fmt: skip
        pool = self._pool(self._cluster(project, location, name), pool_name)
        for url in pool["instanceGroupUrls"]:
            parts = url.split("/")
            self.state.instance_groups[f"{parts[-5]}/{parts[-3]}/{parts[-1]}"] = int(
                body["nodeCount"]
            )
        return self._operation(project, location, "SET_NODE_POOL_SIZE", f"{project}/{pool_name}")

    def _set_autoscaling(self, project: str, location: str, name: str, pool_name: str, *,
                         body: Any, **_: Any) -> Any:  # fmt: skip
        pool = self._pool(self._cluster(project, location, name), pool_name)
        autoscaling = body["autoscaling"]
        if autoscaling.get("enabled"):
            pool["autoscaling"] = autoscaling
        else:
            pool.pop("autoscaling", None)
        return self._operation(project, location, "SET_NODE_POOL_MANAGEMENT",
                               f"{project}/{pool_name}")  # fmt: skip

    def _get_operation(self, project: str, location: str, name: str, **_: Any) -> Any:
        try:
            op = self.state.operations[f"{project}/{location}/{name}"]
        except KeyError:
            raise not_found(f"Operation {name!r}") from None
        op["status"] = "DONE"
        return copy.deepcopy(op)

    def _get_group(self, project: str, zone: str, name: str, **_: Any) -> Any:
        key = f"{project}/{zone}/{name}"
        if key not in self.state.instance_groups:
            raise not_found(f"Instance group manager {name!r}")
        return {"name": name, "zone": zone, "targetSize": self.state.instance_groups[key]}

    def _list_groups(self, project: str, **_: Any) -> Any:
        items: dict[str, Any] = {}
        # A zone the caller may not read: the aggregated list still answers 200,
        # with a warning in that zone's place (what returnPartialSuccess gives).
        for zone in sorted(self.denied_zones):
            items[f"zones/{zone}"] = {"warning": {
                "code": "UNREACHABLE",
                "message": f"Required 'compute.instanceGroupManagers.list' permission for "
                           f"'projects/{project}/zones/{zone}' (403)",
                "data": [{"key": "scope", "value": f"zones/{zone}"}]}}  # fmt: skip
        for key, size in sorted(self.state.instance_groups.items()):
            group_project, zone, name = key.split("/")
            if group_project == project and zone not in self.denied_zones:
                items.setdefault(f"zones/{zone}", {"instanceGroupManagers": []})[
                    "instanceGroupManagers"
                ].append(
                    {
                        "name": name,
                        "zone": f"{self.base}/compute/v1/projects/{project}/zones/{zone}",
                        "targetSize": size,
                        "selfLink": f"{self.base}/compute/v1/projects/{project}/zones/{zone}"
                        f"/instanceGroupManagers/{name}",
                    }
                )
        return {"items": items}

    def _list_zone_groups(self, project: str, zone: str, **_: Any) -> Any:
        items = [
            {"name": key.split("/")[2], "size": size, "zone": zone,
             "selfLink": f"{self.base}/compute/v1/projects/{project}/zones/{zone}"
             f"/instanceGroups/{key.split('/')[2]}"}
            for key, size in sorted(self.state.instance_groups.items())
            if key.startswith(f"{project}/{zone}/")
        ]  # fmt: skip
        return {"items": items}

    # ------------------------------------------------------------ IAM

    def _account(self, project: str, email: str) -> dict[str, Any]:
        account = self.state.accounts.get(email)
        if account is None or (account["projectId"] != project and project != "-"):
            raise not_found(f"Service account projects/{project}/serviceAccounts/{email}")
        return account

    def _list_accounts(self, project: str, **_: Any) -> Any:
        found = [copy.deepcopy(a) for e, a in sorted(self.state.accounts.items())
                 if a["projectId"] == project]  # fmt: skip
        return {"accounts": found} if found else {}

    def _create_account(self, project: str, *, body: Any, **_: Any) -> Any:
        email = f"{body['accountId']}@{project}.iam.gserviceaccount.com"
        if email in self.state.accounts:
            raise ApiError(409, "ALREADY_EXISTS", f"Service account {email} already exists.")
        account = {
            "name": f"projects/{project}/serviceAccounts/{email}",
            "projectId": project,
            "email": email,
            "uniqueId": str(100000 + self._next_id()),
            **body.get("serviceAccount", {}),
        }
        self.state.accounts[email] = account
        self.state.account_policies[email] = {"etag": "ACAB"}
        self._pending_propagation[email] = self.propagation_delay
        return copy.deepcopy(account)

    def _get_account(self, project: str, email: str, **_: Any) -> Any:
        return copy.deepcopy(self._account(project, email))

    def _delete_account(self, project: str, email: str, **_: Any) -> Any:
        self._account(project, email)
        del self.state.accounts[email]
        del self.state.account_policies[email]
        return {}

    def _propagated(self, project: str, email: str) -> None:
        self._account(project, email)
        if self._pending_propagation.get(email):
            self._pending_propagation[email] -= 1
            raise not_found(f"Service account {email} (IAM propagation)")

    def _get_account_policy(self, project: str, email: str, **_: Any) -> Any:
        self._propagated(project, email)
        return copy.deepcopy(self.state.account_policies[email])

    def _set_account_policy(self, project: str, email: str, *, body: Any, **_: Any) -> Any:
        self._propagated(project, email)
        return self._store_policy(self.state.account_policies, email, body["policy"])

    def _store_policy(self, store: dict[str, dict[str, Any]], key: str,
                      policy: dict[str, Any]) -> Any:  # fmt: skip
        if policy.get("etag") and policy["etag"] != store[key].get("etag"):
            raise ApiError(409, "ABORTED", "etag mismatch")
        stored = {k: v for k, v in policy.items() if k in ("bindings", "version")}
        stored["bindings"] = [b for b in stored.get("bindings", []) if b.get("members")]
        # etag is a bytes field: base64 on the wire.
        stored["etag"] = base64.b64encode(f"etag-{self._next_id()}".encode()).decode()
        store[key] = stored
        return copy.deepcopy(stored)

    def _get_bucket_policy(self, bucket: str, **_: Any) -> Any:
        if bucket not in self.state.bucket_policies:
            raise not_found(f"Bucket {bucket}")
        return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{bucket}",
                **copy.deepcopy(self.state.bucket_policies[bucket])}  # fmt: skip

    def _set_bucket_policy(self, bucket: str, *, body: Any, **_: Any) -> Any:
        if bucket not in self.state.bucket_policies:
            raise not_found(f"Bucket {bucket}")
        return self._store_policy(self.state.bucket_policies, bucket, body)

    # ------------------------------------------------------------ hardening (issue 21)

    def _hardening_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        region = r"/compute/v1/projects/([^/]+)/regions/([^/]+)"
        router = region + r"/routers/([^/]+)"
        crm = r"/cloudresourcemanager/v1/projects/([^/:]+)"
        return [
            ("GET", re.compile(region + r"/routers"), self._list_routers),
            ("GET", re.compile(r"/compute/v1/projects/([^/]+)/aggregated/routers"),
             self._aggregated_routers),
            ("POST", re.compile(region + r"/routers"), self._create_router),
            ("GET", re.compile(router), self._get_router),
            ("PATCH", re.compile(router), self._patch_router),
            ("DELETE", re.compile(router), self._delete_router),
            ("GET", re.compile(region + r"/operations/([^/]+)"), self._compute_operation),
            ("POST", re.compile(region + r"/operations/([^/]+)/wait"), self._compute_operation),
            ("POST", re.compile(crm + r":getIamPolicy"), self._get_project_policy),
            ("POST", re.compile(crm + r":setIamPolicy"), self._set_project_policy),
        ]  # fmt: skip

    def _check_node_account(self, config: dict[str, Any]) -> None:
        """GKE refuses nodes whose service account does not exist."""
        email = config.get("serviceAccount")
        if email and email != "default" and email not in self.state.accounts:
            raise ApiError(400, "INVALID_ARGUMENT",
                           f"Service account \"{email}\" does not exist.")  # fmt: skip

    def _harden_cluster(self, cluster: dict[str, Any], location: str) -> None:
        """What GKE returns for the endpoints and private nodes the request chose."""
        endpoints = cluster.setdefault("controlPlaneEndpointsConfig", {})
        dns = endpoints.setdefault("dnsEndpointConfig", {})
        dns["endpoint"] = f"gke-{self._next_id():08x}.{location}.gke.goog"
        if not dns.get("allowExternalTraffic", True):
            del dns["allowExternalTraffic"]  # proto3: false is left out
        ip = endpoints.setdefault("ipEndpointsConfig", {})
        # The IP endpoint is on unless the request turned it off (proto3: false is absent).
        ip.setdefault("enabled", True)
        if not ip["enabled"]:
            del ip["enabled"]
        if ip.get("enabled"):
            ip["publicEndpoint"] = "127.0.0.2"
            ip.setdefault("enablePublicEndpoint", True)
        private = cluster.get("networkConfig", {}).get("defaultEnablePrivateNodes", False)
        if private:
            cluster.setdefault("privateClusterConfig", {})["enablePrivateNodes"] = True

    def _resolve_private_nodes(self, cluster: dict[str, Any], pool: dict[str, Any]) -> None:
        """A pool's private-node setting: its own, else the cluster's default."""
        network = pool.setdefault("networkConfig", {})
        default = cluster.get("networkConfig", {}).get("defaultEnablePrivateNodes", False)
        if network.get("enablePrivateNodes", default):
            network["enablePrivateNodes"] = True
        else:
            network.pop("enablePrivateNodes", None)

    def _update_pool_network(self, pool: dict[str, Any], value: dict[str, Any]) -> None:
        network = pool.setdefault("networkConfig", {})
        if value.get("enablePrivateNodes"):
            network["enablePrivateNodes"] = True
        else:
            network.pop("enablePrivateNodes", None)

    def _update_hardening(self, cluster: dict[str, Any], update: dict[str, Any]) -> None:
        if "desiredDefaultEnablePrivateNodes" in update:
            private = bool(update["desiredDefaultEnablePrivateNodes"])
            cluster.setdefault("networkConfig", {})["defaultEnablePrivateNodes"] = private
            if private:
                cluster.setdefault("privateClusterConfig", {})["enablePrivateNodes"] = True
            else:
                cluster.get("privateClusterConfig", {}).pop("enablePrivateNodes", None)
                cluster["networkConfig"].pop("defaultEnablePrivateNodes")
        desired = update.get("desiredControlPlaneEndpointsConfig")
        if desired is None:
            return
        endpoints = cluster.setdefault("controlPlaneEndpointsConfig", {})
        for section in ("dnsEndpointConfig", "ipEndpointsConfig"):
            given = desired.get(section)
            if given is None:
                continue
            current = endpoints.setdefault(section, {})
            for key, value in given.items():
                if value in (False, None, [], {}):
                    current.pop(key, None)
                else:
                    current[key] = value
            if section == "ipEndpointsConfig":
                if current.get("enabled"):
                    current["publicEndpoint"] = "127.0.0.2"
                else:
                    current.pop("publicEndpoint", None)

    def _region_operation(self, project: str, region: str, kind: str,
                          target: str) -> dict[str, Any]:  # fmt: skip
        name = f"operation-{self._next_id()}"
        base = f"{self.base}/compute/v1/projects/{project}/regions/{region}"
        return {
            "kind": "compute#operation",
            "name": name,
            "operationType": kind,
            "status": "DONE",
            "progress": 100,
            "region": f"{self.base}/compute/v1/projects/{project}/regions/{region}",
            "selfLink": f"{base}/operations/{name}",
            "targetLink": f"{base}/routers/{target}",
        }

    def _compute_operation(self, project: str, region: str, name: str, **_: Any) -> Any:
        base = f"{self.base}/compute/v1/projects/{project}/regions/{region}"
        return {"kind": "compute#operation", "name": name, "status": "DONE", "progress": 100,
                "region": base, "selfLink": f"{base}/operations/{name}"}  # fmt: skip

    def _router(self, project: str, region: str, name: str) -> dict[str, Any]:
        try:
            return self.state.routers[f"{project}/{region}/{name}"]
        except KeyError:
            raise ApiError(404, "NOT_FOUND",
                           f"The resource 'projects/{project}/regions/{region}/routers/{name}' "
                           "was not found") from None  # fmt: skip

    def _list_routers(self, project: str, region: str, **_: Any) -> Any:
        prefix = f"{project}/{region}/"
        items = [copy.deepcopy(r) for k, r in sorted(self.state.routers.items())
                 if k.startswith(prefix)]  # fmt: skip
        return {"kind": "compute#routerList", "items": items}

    def _aggregated_routers(self, project: str, **_: Any) -> Any:
        items: dict[str, Any] = {}
        for key, router in sorted(self.state.routers.items()):
            router_project, region, _name = key.split("/")
            if router_project == project:
                items.setdefault(f"regions/{region}", {"routers": []})["routers"].append(
                    copy.deepcopy(router)
                )
        return {"kind": "compute#routerAggregatedList", "items": items}

    def _create_router(self, project: str, region: str, *, body: Any, **_: Any) -> Any:
        key = f"{project}/{region}/{body['name']}"
        if key in self.state.routers:
            raise ApiError(409, "ALREADY_EXISTS",
                           f"The resource '{key}' already exists")  # fmt: skip
        base = f"{self.base}/compute/v1/projects/{project}/regions/{region}"
        router = {
            "kind": "compute#router",
            "id": str(self._next_id()),
            **copy.deepcopy(body),
            "region": base,
            "selfLink": f"{base}/routers/{body['name']}",
        }
        self.state.routers[key] = router
        return self._region_operation(project, region, "insert", body["name"])

    def _get_router(self, project: str, region: str, name: str, **_: Any) -> Any:
        return copy.deepcopy(self._router(project, region, name))

    def _patch_router(self, project: str, region: str, name: str, *, body: Any,
                      **_: Any) -> Any:  # fmt: skip
        router = self._router(project, region, name)
        for key, value in body.items():
            if key in ("kind", "id", "selfLink", "region", "name", "creationTimestamp"):
                continue
            if value in ([], None):
                router.pop(key, None)
            else:
                router[key] = copy.deepcopy(value)
        return self._region_operation(project, region, "patch", name)

    def _delete_router(self, project: str, region: str, name: str, **_: Any) -> Any:
        self._router(project, region, name)
        del self.state.routers[f"{project}/{region}/{name}"]
        return self._region_operation(project, region, "delete", name)

    def project_policy(self, project: str) -> dict[str, Any]:
        # A project starts with its owner, so a test sees that grants leave others alone.
        return self.state.project_policies.setdefault(project, {
            "bindings": [{"role": "roles/owner", "members": ["user:owner@example.com"]}],
            "etag": "BwYAAA==", "version": 1})  # fmt: skip

    def _get_project_policy(self, project: str, **_: Any) -> Any:
        return copy.deepcopy(self.project_policy(project))

    def _set_project_policy(self, project: str, *, body: Any, **_: Any) -> Any:
        self.project_policy(project)
        return self._store_policy(self.state.project_policies, project, body["policy"])

    # ------------------------------------------------------------ views for tests

    def bindings(self, store: str, key: str) -> set[tuple[str, str]]:
        """(role, member) pairs of an account's (``store="account"``), a bucket's or a
        project's policy."""
        policies = {
            "account": self.state.account_policies,
            "bucket": self.state.bucket_policies,
            "project": self.state.project_policies,
        }[store]
        policy = policies.get(key, {})
        return {(b["role"], m) for b in policy.get("bindings", []) for m in b["members"]}
