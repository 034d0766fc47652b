"""The settings of a ``Local::Service``, parsed from its (CloudFormation-cased) properties (pure).

:meth:`ServiceSpec.from_properties` checks and converts the properties stored in a service record
(``ServiceRecord.spec``); both the controller and the reconcile decision read them through it.
Numbers may be given as numeric strings and booleans as ``"true"``/``"false"`` (CloudFormation
passes parameters as strings). Errors are :class:`ValueError` naming the property path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stackflow.supervise.backoff import BackoffPolicy
from stackflow.supervise.probe_state import ProbeSpec

__all__ = ["RestartPolicy", "ServiceSpec", "UpdateStrategy", "resolve_count"]

RestartPolicy = Literal["Always", "OnFailure", "Never"]
UpdateStrategy = Literal["RollingUpdate", "Recreate"]

_KNOWN = (
    "Command",
    "Environment",
    "WorkingDirectory",
    "Replicas",
    "Port",
    "StopSignal",
    "StopGracePeriodSeconds",
    "RestartPolicy",
    "RestartBackoff",
    "Probes",
    "Logs",
    "Limits",
    "UpdatePolicy",
    "LoadBalancer",
    "ReadyTimeoutSeconds",
    "DependsOn",
)
_LIMITS = {"OpenFiles": "NOFILE", "MemoryBytes": "AS", "CpuSeconds": "CPU"}
_PROBES = {"Startup": "startup", "Readiness": "readiness", "Liveness": "liveness"}


@dataclass(frozen=True)
class ServiceSpec:
    """The parsed settings of one service revision.

    Attributes:
        command: argv of each replica.
        environment: Extra environment variables (added to the controller's environment).
        working_directory: Working directory, relative to the service's ``base_dir``; None: it.
        replicas: ``Replicas`` as given (the record's ``replicas`` field is what counts).
        port: First port (slot i gets ``port + i``), or None to pick free ports.
        stop_signal: First signal sent to stop a replica's process group.
        stop_grace_seconds: Time between that signal and SIGKILL.
        restart_policy: ``Always``, ``OnFailure`` or ``Never``.
        backoff: Restart backoff.
        startup: Startup probe, or None.
        readiness: Readiness probe, or None (ready as soon as it runs).
        liveness: Liveness probe, or None.
        log_max_bytes: Size at which a replica log is rotated.
        log_keep: Rotated copies kept.
        rlimits: Resource limits (``NOFILE``, ``AS``, ``CPU``) for :class:`ProcessSpec`.
        strategy: ``RollingUpdate`` or ``Recreate``.
        max_surge: Replicas above the desired count during a rolling update (int or "25%").
        max_unavailable: Replicas below the desired count allowed during it (int or "25%").
        min_ready_seconds: A replica counts as available once ready this long.
        progress_deadline_seconds: A rollout that makes no progress this long fails.
        auto_rollback: Roll back to the previous revision when the deadline passes.
        load_balancer: True when a ``LoadBalancer`` is configured.
        load_balancer_host: Its listening host.
        load_balancer_port: Its port, or None to pick a free one.
        ready_timeout_seconds: How long ``stack apply`` waits for readiness.
    """

    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    replicas: int = 1
    port: int | None = None
    stop_signal: str = "TERM"
    stop_grace_seconds: float = 10.0
    restart_policy: RestartPolicy = "Always"
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    startup: ProbeSpec | None = None
    readiness: ProbeSpec | None = None
    liveness: ProbeSpec | None = None
    log_max_bytes: int = 10 * 1024 * 1024
    log_keep: int = 5
    rlimits: dict[str, int] = field(default_factory=dict)
    strategy: UpdateStrategy = "RollingUpdate"
    max_surge: int | str = 1
    max_unavailable: int | str = 0
    min_ready_seconds: float = 0.0
    progress_deadline_seconds: float = 600.0
    auto_rollback: bool = True
    load_balancer: bool = False
    load_balancer_host: str = "127.0.0.1"
    load_balancer_port: int | None = None
    ready_timeout_seconds: float = 300.0

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> ServiceSpec:
        """Parse ``Local::Service`` properties.

        Args:
            props: The resolved properties (CloudFormation casing).

        Returns:
            The settings.

        Raises:
            ValueError: A property is unknown, missing or invalid; the message starts with its
                path (e.g. ``UpdatePolicy.MaxSurge``).
        """
        if not isinstance(props, Mapping):
            raise ValueError(f"expected a mapping of properties, got {type(props).__name__}")
        for key in props:
            if key not in _KNOWN:
                raise ValueError(f"{key}: unknown property (expected one of {', '.join(_KNOWN)})")
        if "Command" not in props:
            raise ValueError("Command: required (a list of strings)")
        command = props["Command"]
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) for part in command)
        ):
            raise ValueError("Command: expected a non-empty list of strings")
        kwargs: dict[str, Any] = {"command": list(command)}
        kwargs["environment"] = _environment(props.get("Environment"))
        if props.get("WorkingDirectory") is not None:
            kwargs["working_directory"] = _string("WorkingDirectory", props["WorkingDirectory"])
        if "Replicas" in props:
            kwargs["replicas"] = _integer("Replicas", props["Replicas"], low=0)
        if props.get("Port") is not None:
            kwargs["port"] = _integer("Port", props["Port"], low=1, high=65535)
        if "StopSignal" in props:
            kwargs["stop_signal"] = _string("StopSignal", props["StopSignal"])
        if "StopGracePeriodSeconds" in props:
            kwargs["stop_grace_seconds"] = _number(
                "StopGracePeriodSeconds", props["StopGracePeriodSeconds"]
            )
        if "RestartPolicy" in props:
            policy = props["RestartPolicy"]
            if policy not in ("Always", "OnFailure", "Never"):
                raise ValueError(
                    f"RestartPolicy: expected Always, OnFailure or Never, got {policy!r}"
                )
            kwargs["restart_policy"] = policy
        if props.get("RestartBackoff") is not None:
            try:
                kwargs["backoff"] = BackoffPolicy.from_properties(props["RestartBackoff"])
            except ValueError as exc:
                raise ValueError(f"RestartBackoff: {exc}") from None
        kwargs.update(_probes(props.get("Probes")))
        kwargs.update(_logs(props.get("Logs")))
        kwargs["rlimits"] = _limits(props.get("Limits"))
        kwargs.update(_update_policy(props.get("UpdatePolicy")))
        kwargs.update(_load_balancer(props.get("LoadBalancer")))
        if "ReadyTimeoutSeconds" in props:
            kwargs["ready_timeout_seconds"] = _number(
                "ReadyTimeoutSeconds", props["ReadyTimeoutSeconds"]
            )
        spec = cls(**kwargs)
        if port := spec.port:
            last = port + max(spec.replicas, 1) - 1
            if last > 65535:
                raise ValueError(f"Port: {port} + {spec.replicas} replicas goes above 65535")
        return spec

    def limits(self, replicas: int) -> tuple[int, int]:
        """Return ``(max_surge, max_unavailable)`` as replica counts for ``replicas`` replicas.

        Percentages round up for the surge and down for unavailability (like Kubernetes); when
        both come out as 0, one replica may be unavailable so a rollout can progress.
        """
        surge = resolve_count(self.max_surge, replicas, round_up=True)
        unavailable = resolve_count(self.max_unavailable, replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable


def resolve_count(value: int | str, total: int, *, round_up: bool) -> int:
    """Return an absolute count from an int or a percentage string of ``total``.

    Args:
        value: A count (``2``) or a percentage (``"25%"``).
        total: What the percentage is of.
        round_up: Round a fractional percentage up (else down).

    Raises:
        ValueError: Not a count or a percentage.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    text = str(value).strip()
    if text.endswith("%"):
        percent = float(text[:-1])
        amount = total * percent / 100.0
        return max(0, math.ceil(amount - 1e-9) if round_up else math.floor(amount + 1e-9))
    return max(0, int(text))


def _string(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _number(key: str, value: object, *, low: float = 0.0) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{key}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    if value < low:
        raise ValueError(f"{key}: must be at least {low:g}, got {value:g}")
    return float(value)


def _integer(key: str, value: object, *, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{key}: must be {bound}, got {value}")
    return value


def _boolean(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{key}: expected true or false, got {value!r}")


def _mapping(key: str, value: object, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{key}: expected a mapping, got {type(value).__name__}")
    for name in value:
        if name not in known:
            raise ValueError(f"{key}.{name}: unknown property (expected {', '.join(known)})")
    return value


def _count_or_percent(key: str, value: object) -> int | str:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"{key}: expected a count or a percentage, got {value!r}") from None
        if not 0 <= percent <= 100:
            raise ValueError(f"{key}: percentage must be between 0% and 100%, got {value!r}")
        return value.strip()
    return _integer(key, value, low=0)


def _environment(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"Environment: expected a mapping, got {type(value).__name__}")
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or "=" in name:
            raise ValueError(f"Environment: bad variable name {name!r}")
        if isinstance(item, bool):
            item = "true" if item else "false"
        if isinstance(item, int | float):
            item = str(item)
        if not isinstance(item, str):
            raise ValueError(f"Environment.{name}: expected a string, got {type(item).__name__}")
        result[name] = item
    return result


def _probes(value: object) -> dict[str, ProbeSpec]:
    if value is None:
        return {}
    probes = _mapping("Probes", value, tuple(_PROBES))
    result: dict[str, ProbeSpec] = {}
    for key, attr in _PROBES.items():
        if probes.get(key) is not None:
            try:
                result[attr] = ProbeSpec.from_properties(probes[key])
            except ValueError as exc:
                raise ValueError(f"Probes.{key}: {exc}") from None
    return result


def _logs(value: object) -> dict[str, int]:
    if value is None:
        return {}
    logs = _mapping("Logs", value, ("MaxBytes", "Keep"))
    result: dict[str, int] = {}
    if "MaxBytes" in logs:
        result["log_max_bytes"] = _integer("Logs.MaxBytes", logs["MaxBytes"], low=1)
    if "Keep" in logs:
        result["log_keep"] = _integer("Logs.Keep", logs["Keep"], low=0)
    return result


def _limits(value: object) -> dict[str, int]:
    if value is None:
        return {}
    limits = _mapping("Limits", value, tuple(_LIMITS))
    return {
        _LIMITS[key]: _integer(f"Limits.{key}", item, low=1)
        for key, item in limits.items()
        if item is not None
    }


def _update_policy(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    known = (
        "Strategy",
        "MaxSurge",
        "MaxUnavailable",
        "MinReadySeconds",
        "ProgressDeadlineSeconds",
        "AutoRollback",
    )
    policy = _mapping("UpdatePolicy", value, known)
    result: dict[str, Any] = {}
    if "Strategy" in policy:
        strategy = policy["Strategy"]
        if strategy not in ("RollingUpdate", "Recreate"):
            raise ValueError(
                f"UpdatePolicy.Strategy: expected RollingUpdate or Recreate, got {strategy!r}"
            )
        result["strategy"] = strategy
    if "MaxSurge" in policy:
        result["max_surge"] = _count_or_percent("UpdatePolicy.MaxSurge", policy["MaxSurge"])
    if "MaxUnavailable" in policy:
        result["max_unavailable"] = _count_or_percent(
            "UpdatePolicy.MaxUnavailable", policy["MaxUnavailable"]
        )
    if "MinReadySeconds" in policy:
        result["min_ready_seconds"] = _number(
            "UpdatePolicy.MinReadySeconds", policy["MinReadySeconds"]
        )
    if "ProgressDeadlineSeconds" in policy:
        result["progress_deadline_seconds"] = _number(
            "UpdatePolicy.ProgressDeadlineSeconds", policy["ProgressDeadlineSeconds"]
        )
    if "AutoRollback" in policy:
        result["auto_rollback"] = _boolean("UpdatePolicy.AutoRollback", policy["AutoRollback"])
    return result


def _load_balancer(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    balancer = _mapping("LoadBalancer", value, ("Port", "Host"))
    result: dict[str, Any] = {"load_balancer": True}
    if balancer.get("Port") is not None:
        result["load_balancer_port"] = _integer(
            "LoadBalancer.Port", balancer["Port"], low=1, high=65535
        )
    if "Host" in balancer:
        result["load_balancer_host"] = _string("LoadBalancer.Host", balancer["Host"])
    return result
