"""``Local::Service``: replicas of a supervised process kept in their desired state.

The provider does not run processes itself: it writes the desired state (a
:class:`~stackflow.store.services.ServiceRecord`) to the services store and waits, through
``IN_PROGRESS`` callbacks, until the reconcile loop (:class:`~stackflow.supervise.controller.
ServiceController`, run by ``stackflow server``) reports the revision rolled out with every replica
ready. When no server is running, it runs a controller in this process for the service until it
is ready; the replicas then keep running unsupervised until a server starts and adopts them.

See ``docs/services.md`` for every property and attribute.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from stackflow.errors import Problem, ProviderError, SourceLocation
from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import invalid
from stackflow.sourcemap import join_pointer
from stackflow.template.model import contains_unknown

TYPE_NAME = "Local::Service"
DEFAULT_READY_TIMEOUT = 300.0
#: Seconds between two looks at the service while waiting.
POLL_SECONDS = 0.2
#: What a delete waits beyond the stop grace period of the replicas.
DELETE_SLACK = 60.0
NO_SERVER_MESSAGE = (
    "no stackflow server is running: replicas are not supervised until `stackflow server` starts"
)

_PERCENT_OR_INT: dict[str, Any] = {
    "oneOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": "^(100|[1-9]?[0-9])%$"},
    ]
}
_PROBE: dict[str, Any] = {
    "type": "object",
    "description": "A probe with Kubernetes' fields (httpGet, tcpSocket or exec; "
    "initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold), "
    "in Kubernetes or CloudFormation casing.",
}
_NUMBER_MIN0: dict[str, Any] = {"type": "number", "minimum": 0}

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": TYPE_NAME,
        "description": "Replicas of a supervised process: probes, restarts with backoff, "
        "rolling updates and an optional TCP load balancer (like a Kubernetes Deployment "
        "and Service).",
        "properties": {
            "Command": {
                "type": "array",
                "minItems": 1,
                "items": {"type": ["string", "number"]},
                "description": "argv of each replica (no shell).",
            },
            "Environment": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Environment variables added to stackflow's environment.",
            },
            "WorkingDirectory": {
                "type": "string",
                "minLength": 1,
                "description": "Where replicas run (relative to the template's folder).",
            },
            "Replicas": {"type": "integer", "minimum": 0, "default": 1},
            "Port": {
                "type": "integer",
                "minimum": 1,
                "maximum": 65535,
                "description": "Replica slot i listens on Port+i ($PORT); without it, free "
                "ports are picked.",
            },
            "StopSignal": {"type": "string", "minLength": 1, "default": "TERM"},
            "StopGracePeriodSeconds": {**_NUMBER_MIN0, "default": 10},
            "RestartPolicy": {
                "type": "string",
                "enum": ["Always", "OnFailure", "Never"],
                "default": "Always",
            },
            "RestartBackoff": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "InitialDelaySeconds": _NUMBER_MIN0,
                    "Factor": {"type": "number", "minimum": 1},
                    "MaxDelaySeconds": _NUMBER_MIN0,
                    "ResetAfterSeconds": _NUMBER_MIN0,
                    "Jitter": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
            "Probes": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"Startup": _PROBE, "Readiness": _PROBE, "Liveness": _PROBE},
            },
            "Logs": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "MaxBytes": {"type": "integer", "minimum": 1},
                    "Keep": {"type": "integer", "minimum": 0},
                },
            },
            "Limits": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "OpenFiles": {"type": "integer", "minimum": 1},
                    "MemoryBytes": {"type": "integer", "minimum": 1},
                    "CpuSeconds": {"type": "integer", "minimum": 1},
                },
            },
            "UpdatePolicy": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "Strategy": {"type": "string", "enum": ["RollingUpdate", "Recreate"]},
                    "MaxSurge": _PERCENT_OR_INT,
                    "MaxUnavailable": _PERCENT_OR_INT,
                    "MinReadySeconds": _NUMBER_MIN0,
                    "ProgressDeadlineSeconds": {"type": "number", "exclusiveMinimum": 0},
                    "AutoRollback": {"type": "boolean"},
                },
            },
            "LoadBalancer": {
                "type": "object",
                "additionalProperties": False,
                "description": "A TCP port spreading connections over the ready replicas "
                "(without Port, a free port is picked each time the controller starts).",
                "properties": {
                    "Port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "Host": {"type": "string", "minLength": 1},
                },
            },
            "ReadyTimeoutSeconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": DEFAULT_READY_TIMEOUT,
            },
            "Name": {"type": "string", "readOnly": True},
            "Ports": {"type": "array", "readOnly": True},
            "LoadBalancerAddress": {"type": "string", "readOnly": True},
            "LoadBalancerPort": {"type": "integer", "readOnly": True},
        },
        "required": ["Command"],
        "createOnlyProperties": [],
        "readOnlyProperties": [
            "/properties/Name",
            "/properties/Ports",
            "/properties/LoadBalancerAddress",
            "/properties/LoadBalancerPort",
        ],
        "writeOnlyProperties": [],
        "additionalProperties": False,
    }
)

#: GetAtt names: the read-only ones plus Port (first replica port) and Replicas.
ATTRIBUTES = frozenset({*SCHEMA.read_only, "Port", "Replicas"})


def service_name(request: ResourceRequest) -> str:
    """Return the physical id of a service: ``<stack>-<logical id>``."""
    return request.physical_id or f"{request.stack_name}-{request.logical_id}"


def check_properties(props: Mapping[str, Any]) -> None:
    """Check what the schema cannot: probes, backoff, update policy, signal and port ranges.

    Args:
        props: The resolved properties.

    Raises:
        ProviderError: InvalidRequest naming the property path and what was expected.
    """
    from stackflow.supervise.process import parse_signal
    from stackflow.supervise.service_spec import ServiceSpec

    try:
        spec = ServiceSpec.from_properties(desired_spec(props) | {"Replicas": _replicas(props)})
    except ValueError as exc:
        raise invalid(str(exc)) from None
    try:
        parse_signal(spec.stop_signal)
    except ValueError:
        raise invalid(
            f"StopSignal: expected a signal name such as TERM or INT, got {spec.stop_signal!r}"
        ) from None


_PATH_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[\d+\])?(\.[A-Za-z][A-Za-z0-9_]*(\[\d+\])?)*$")


def _split_property_path(message: str) -> tuple[list[str], str]:
    """Split ``"Probes.Readiness: HttpGet.Pth: unknown..."`` into its path and the message.

    Returns:
        The path's tokens (``["Probes", "Readiness", "HttpGet", "Pth"]``; ``x[0]`` gives ``x``,
        ``0``) and the whole message (kept as it is, it names the path too).
    """
    tokens: list[str] = []
    parts = message.split(": ")
    for part in parts[:-1]:
        if not _PATH_SEGMENT.match(part):
            break
        for name in part.split("."):
            base, _, index = name.partition("[")
            tokens.append(base)
            if index:
                tokens.append(index.rstrip("]"))
    return tokens, message


def _replicas(props: Mapping[str, Any]) -> int:
    """Return the Replicas property (default 1)."""
    value = props.get("Replicas", 1)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        raise invalid(f"Replicas: expected an integer, got {value!r}") from None


def desired_spec(props: Mapping[str, Any]) -> dict[str, Any]:
    """Return the revisioned part of the properties: everything but ``Replicas``.

    Args:
        props: The resolved properties.

    Returns:
        A copy without ``Replicas`` (changing only the count scales, it is not a new revision),
        with ``Command`` items as strings.
    """
    spec = {key: value for key, value in props.items() if key != "Replicas"}
    if isinstance(spec.get("Command"), list):
        spec["Command"] = [str(part) for part in spec["Command"]]
    return spec


#: Replica states of a process that exists (or is being stopped).
_ACTIVE = frozenset({"STARTING", "RUNNING", "READY", "STOPPING"})


def _store_of(context: ProviderContext) -> Any:
    """Return the services store of the context, or fail clearly."""
    store = context.services
    if store is None:
        raise ProviderError(
            "Local::Service needs the services store, but the stacks engine passed none "
            "(ProviderContext.services)",
            HandlerErrorCode.InternalFailure,
        )
    return store


def service_attributes(record: Any, replicas: list[Any]) -> dict[str, Any]:
    """Return the GetAtt attributes of a service.

    Args:
        record: The :class:`~stackflow.store.services.ServiceRecord`.
        replicas: Its :class:`~stackflow.store.services.ReplicaRecord` list.

    Returns:
        ``Name``, ``Ports`` (slot order), ``Port`` (the first, 0 when none), ``Replicas``,
        ``LoadBalancerAddress`` ("host:port", "" without a load balancer) and
        ``LoadBalancerPort`` (0 without one).
    """
    base = record.spec.get("Port")
    if isinstance(base, int) and not isinstance(base, bool):
        ports = [base + slot for slot in range(record.replicas)]
    else:
        current = sorted(
            (r for r in replicas if r.revision == record.revision and r.state in _ACTIVE),
            key=lambda r: r.slot,
        )
        ports = [r.port for r in current if r.port is not None]
    address = record.load_balancer or ""
    lb_port = 0
    if address:
        with contextlib.suppress(ValueError):
            lb_port = int(address.rsplit(":", 1)[1])
    return {
        "Name": record.name,
        "Ports": ports,
        "Port": ports[0] if ports else 0,
        "Replicas": record.replicas,
        "LoadBalancerAddress": address,
        "LoadBalancerPort": lb_port,
    }


def _ready(record: Any, replicas: list[Any]) -> int:
    return sum(1 for r in replicas if r.revision == record.revision and r.state == "READY")


def _settled(record: Any, replicas: list[Any]) -> bool:
    """Tell whether exactly the desired replicas of the current revision run, all ready."""
    active = [r for r in replicas if r.state in _ACTIVE]
    return (
        _ready(record, replicas) >= record.replicas
        and len(active) == record.replicas
        and all(r.revision == record.revision and r.state == "READY" for r in active)
        and record.rollout.get("status") != "PROGRESSING"
    )


def _diagnostics(cb: dict[str, Any], replicas: list[Any], revision: int) -> None:
    """Remember the last probe output and exit code of the replicas of ``revision``."""
    for replica in replicas:
        if replica.revision != revision:
            continue
        if replica.probe_output and replica.state != "READY":
            cb["probe"] = f"replica {replica.slot}: {replica.probe_output.strip()}"
        if replica.last_exit_code is not None:
            cb["exit"] = f"replica {replica.slot} exited with code {replica.last_exit_code}"


def _explain(cb: dict[str, Any]) -> str:
    """Return the last probe output and exit code seen, for a failure message."""
    parts = []
    if cb.get("probe"):
        parts.append(f"last probe output: {cb['probe']}")
    if cb.get("exit"):
        parts.append(f"last exit: {cb['exit']}")
    return "; ".join(parts) if parts else "no probe output or exit recorded"


class ServiceProvider(Provider):
    """The ``Local::Service`` resource type (see the module docstring)."""

    schema = SCHEMA

    def __init__(self) -> None:
        """Create the provider (it keeps the in-process controllers it starts)."""
        self._lock = threading.Lock()
        self._local: dict[str, Any] = {}

    def attribute_names(self) -> frozenset[str] | None:
        """Return the GetAtt names: Name, Ports, Port, Replicas, LoadBalancer{Address,Port}."""
        return ATTRIBUTES

    def requires_replacement(self, name: str, before: Any, after: Any) -> bool:
        """No property forces replacement: a changed spec is rolled out as a new revision."""
        return False

    def check(self, properties: dict[str, Any], *, pointer: str) -> list[Problem]:
        """The schema check, then what only the service spec knows (probes, backoff, policy).

        The second part runs once every value is known (not at plan time for values that
        depend on resources not created yet); its problem points at the property it names.
        """
        problems = super().check(properties, pointer=pointer)
        if problems or contains_unknown(properties):
            return problems
        try:
            check_properties(properties)
        except ProviderError as exc:
            path, message = _split_property_path(exc.message)
            return [
                Problem(SourceLocation(None, None, None, join_pointer(pointer, *path)), message)
            ]
        return []

    # ------------------------------------------------------------------ handlers

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Record the service (revision 1) and wait until its replicas are ready."""
        if request.callback_context:
            return self._continue(request, context)
        return self._write(request, context)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Record a new revision (or only the new replica count) and wait for the rollout."""
        if request.callback_context:
            return self._continue(request, context)
        return self._write(request, context)

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Mark the service deleted and wait until every replica is stopped and it is gone."""
        store = _store_of(context)
        name = service_name(request)
        cb = dict(request.callback_context or {})
        now = time.time()
        record = store.find_service(name)
        if record is None:
            self._release(name)
            return ProgressEvent.success(name)
        if not cb:
            if not record.deleted:
                store.update_service(name, deleted=True, updated_at=now)
            grace = float(record.spec.get("StopGracePeriodSeconds", 10) or 0)
            cb = {"phase": "delete", "name": name, "since": now, "limit": grace + DELETE_SLACK}
        self._supervise(store, name, context, cb)
        if now - float(cb["since"]) > float(cb["limit"]):
            active = [r for r in store.list_replicas(name) if r.state in _ACTIVE]
            return ProgressEvent.failed(
                f"service {name}: {len(active)} replicas still running "
                f"{now - float(cb['since']):.0f}s after the delete was requested",
                HandlerErrorCode.NotStabilized,
            )
        return ProgressEvent.in_progress(cb, POLL_SECONDS)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Return the recorded spec with ``Replicas`` as observed (fewer ready replicas drift)."""
        store = _store_of(context)
        record = store.find_service(service_name(request))
        if record is None or record.deleted:
            return None
        replicas = store.list_replicas(record.name)
        ready = _ready(record, replicas)
        properties = dict(record.spec)
        properties["Replicas"] = record.replicas if ready >= record.replicas else ready
        return ReadResult(properties, service_attributes(record, replicas))

    # ------------------------------------------------------------------ internals

    def _write(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Write the desired state; return IN_PROGRESS to wait for it."""
        from stackflow.store.services import ServiceRecord, next_revision

        props = request.properties
        check_properties(props)
        store = _store_of(context)
        name = service_name(request)
        spec = desired_spec(props)
        replicas = _replicas(props)
        now = time.time()
        existing = store.find_service(name)
        if existing is not None and (
            existing.stack_name != request.stack_name or existing.logical_id != request.logical_id
        ):
            return ProgressEvent.failed(
                f"a service named {name} already exists (stack {existing.stack_name or '-'}, "
                f"resource {existing.logical_id or '-'})",
                HandlerErrorCode.AlreadyExists,
            )
        cb: dict[str, Any] = {"phase": "wait", "name": name, "since": now, "fresh": False}
        if existing is not None and existing.deleted:
            # A delete of the same service is still stopping replicas: wait for it, then create.
            cb["phase"] = "recreate"
            return ProgressEvent.in_progress(cb, POLL_SECONDS, f"waiting for {name} to stop")
        if existing is None:
            record = ServiceRecord(
                name=name,
                stack_name=request.stack_name,
                logical_id=request.logical_id,
                spec=spec,
                revision=1,
                replicas=replicas,
                base_dir=str(request.base_dir),
                created_at=now,
                updated_at=now,
                rollout=_progressing(1, now, "created"),
            )
            store.put_service(record)
            cb.update(revision=1, fresh=True)
        elif existing.spec != spec:
            revision = next_revision(existing)
            store.update_service(
                name,
                spec=spec,
                revision=revision,
                previous_spec=existing.spec,
                previous_revision=existing.revision,
                replicas=replicas,
                base_dir=str(request.base_dir),
                rollout=_progressing(revision, now, f"update from revision {existing.revision}"),
                updated_at=now,
            )
            cb.update(revision=revision, fresh=True)
        else:
            if existing.replicas != replicas or existing.base_dir != str(request.base_dir):
                store.update_service(
                    name, replicas=replicas, base_dir=str(request.base_dir), updated_at=now
                )
            cb.update(revision=existing.revision)
        self._wake(name)
        return ProgressEvent.in_progress(cb, POLL_SECONDS)

    def _continue(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """One look at the service while create/update waits."""
        cb = dict(request.callback_context or {})
        store = _store_of(context)
        name = str(cb["name"])
        if cb.get("phase") == "recreate":
            self._supervise(store, name, context, cb)
            if store.find_service(name) is not None:
                return ProgressEvent.in_progress(cb, POLL_SECONDS)
            self._release(name)
            return self._write(request, context)
        now = time.time()
        record = store.find_service(name)
        if record is None or record.deleted:
            self._release(name)
            return ProgressEvent.failed(
                f"service {name} was deleted while waiting for it to get ready",
                HandlerErrorCode.NotFound,
            )
        self._supervise(store, name, context, cb)
        replicas = store.list_replicas(name)
        target = int(cb["revision"])
        _diagnostics(cb, replicas, target)
        rollout = record.rollout
        if record.revision != target or (
            cb.get("fresh")
            and rollout.get("revision") == target
            and rollout.get("status") in ("ROLLED_BACK", "FAILED")
        ):
            self._release(name)
            what = (
                f"was rolled back to revision {record.revision}"
                if record.revision != target or rollout.get("status") == "ROLLED_BACK"
                else "failed"
            )
            detail = f" ({rollout['message']})" if rollout.get("message") else ""
            return ProgressEvent.failed(
                f"service {name}: revision {target} did not become ready and {what}{detail}; "
                f"{_explain(cb)}",
                HandlerErrorCode.NotStabilized,
            )
        if _settled(record, replicas):
            self._release(name)
            return ProgressEvent.success(name, service_attributes(record, replicas))
        limit = float(record.spec.get("ReadyTimeoutSeconds", DEFAULT_READY_TIMEOUT))
        waited = now - float(cb["since"])
        ready = _ready(record, replicas)
        if waited > limit:
            self._release(name)
            return ProgressEvent.failed(
                f"service {name}: {ready}/{record.replicas} replicas of revision {target} ready "
                f"after {waited:.0f}s (ReadyTimeoutSeconds {limit:g}); {_explain(cb)}",
                HandlerErrorCode.NotStabilized,
            )
        message = f"{ready}/{record.replicas} replicas ready (revision {target})"
        if message == cb.get("said"):
            message = ""
        else:
            cb["said"] = message
        return ProgressEvent.in_progress(cb, POLL_SECONDS, message)

    def _supervise(
        self, store: Any, name: str, context: ProviderContext, cb: dict[str, Any]
    ) -> None:
        """Make sure a controller supervises the service: a server, or one in this process."""
        from stackflow.supervise.controller import ServiceController, default_owner

        with self._lock:
            if name in self._local:
                return
            own = {c.owner for c in self._local.values()}
        live = [owner for owner in store.live_controllers(time.time()) if owner not in own]
        if live:
            return
        controller = ServiceController(
            store,
            owner=default_owner(),
            home=context.home,
            services=[name],
            poll_seconds=POLL_SECONDS,
        )
        with self._lock:
            if name in self._local:
                return
            self._local[name] = controller
        controller.start()
        if not cb.get("unsupervised"):
            cb["unsupervised"] = True
            context.report(NO_SERVER_MESSAGE)

    def _wake(self, name: str) -> None:
        """Tell the in-process controller of ``name`` (if any) that its record changed."""
        with self._lock:
            controller = self._local.get(name)
        if controller is not None:
            controller.wake()

    def _release(self, name: str) -> None:
        """Stop the in-process controller of ``name`` (replicas keep running)."""
        with self._lock:
            controller = self._local.pop(name, None)
        if controller is not None:
            controller.stop(kill_replicas=False)


def _progressing(revision: int, now: float, message: str) -> dict[str, Any]:
    """Return the rollout of a revision just written."""
    return {"status": "PROGRESSING", "revision": revision, "started_at": now, "message": message}
