"""Probe definitions and the threshold state of one probe of one replica (pure).

:class:`ProbeSpec` is what a user writes (Kubernetes' field names and defaults, or the same names
in CloudFormation casing); :class:`ProbeTracker` turns a series of probe results into "passing" or
not using ``successThreshold`` / ``failureThreshold`` and says when the next probe is due. Nothing
here reads a clock: times are passed in. Running a probe is
:func:`stackflow.supervise.probes.run_probe`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ProbeKind = Literal["http", "tcp", "exec"]

#: Probe output kept (Kubernetes keeps 10 KiB of an exec probe's output).
MAX_OUTPUT_CHARS = 10 * 1024

_HANDLERS = ("httpGet", "tcpSocket", "exec")
_TIMING_FIELDS = {
    "initialDelaySeconds": "initial_delay_seconds",
    "periodSeconds": "period_seconds",
    "timeoutSeconds": "timeout_seconds",
}
_THRESHOLD_FIELDS = {
    "successThreshold": "success_threshold",
    "failureThreshold": "failure_threshold",
}
_UNSUPPORTED = ("grpc", "terminationGracePeriodSeconds")


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of running a probe once.

    Attributes:
        ok: True when the probe succeeded.
        output: What explains the outcome (HTTP status and body start, command output, or the
            error), at most :data:`MAX_OUTPUT_CHARS` characters.
    """

    ok: bool
    output: str


@dataclass(frozen=True)
class ProbeSpec:
    """One startup, readiness or liveness probe (Kubernetes semantics and defaults).

    Attributes:
        kind: ``"http"`` (GET, success when 200 <= status < 400), ``"tcp"`` (connect) or
            ``"exec"`` (exit status 0).
        path: HTTP path (http only).
        port: Port to probe; None means the replica's own port (http and tcp).
        scheme: ``"http"`` or ``"https"`` (https does not verify certificates, like Kubernetes).
        headers: Extra HTTP request headers.
        command: The command of an exec probe (argv, not a shell string).
        initial_delay_seconds: Wait after the replica starts before the first probe.
        period_seconds: Interval between probes (fractions allowed, unlike Kubernetes).
        timeout_seconds: Time after which one probe counts as failed.
        success_threshold: Consecutive successes that make a failing probe pass.
        failure_threshold: Consecutive failures that make a passing probe fail.
    """

    kind: ProbeKind
    path: str = "/"
    port: int | None = None
    scheme: str = "http"
    headers: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    initial_delay_seconds: float = 0
    period_seconds: float = 10
    timeout_seconds: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> ProbeSpec:
        """Build a probe from Kubernetes-style or CloudFormation-style properties.

        Accepts exactly one handler, ``httpGet {path, port, scheme, httpHeaders: [{name, value}]}``,
        ``tcpSocket {port}`` or ``exec {command}``, plus ``initialDelaySeconds``,
        ``periodSeconds``, ``timeoutSeconds``, ``successThreshold``, ``failureThreshold``. Every
        key may also be written with a capital first letter (``HttpGet``, ``Path``, ...).

        Args:
            props: The probe's properties.

        Returns:
            The probe.

        Raises:
            ValueError: Unknown key, missing or duplicate handler, or a bad value; the message
                names the key path (e.g. ``httpGet.port``).
        """
        fields = _fold_keys(props, "")
        for name in _UNSUPPORTED:
            if name in fields:
                raise ValueError(f"{fields[name][0]}: not supported by stackflow probes")
        known = set(_HANDLERS) | set(_TIMING_FIELDS) | set(_THRESHOLD_FIELDS)
        for name, (key, _) in fields.items():
            if name not in known:
                raise ValueError(f"{key}: unknown probe property")
        handlers = [name for name in _HANDLERS if name in fields]
        if len(handlers) != 1:
            found = ", ".join(fields[name][0] for name in handlers) or "none"
            raise ValueError(
                f"a probe needs exactly one of httpGet, tcpSocket or exec (found {found})"
            )
        handler = handlers[0]
        key, body = fields[handler]
        kwargs: dict[str, Any] = {}
        if handler == "httpGet":
            kwargs.update(_http_get(key, body))
        elif handler == "tcpSocket":
            kwargs.update(_tcp_socket(key, body))
        else:
            kwargs.update(_exec(key, body))
        for name, attr in _TIMING_FIELDS.items():
            if name in fields:
                tkey, value = fields[name]
                number = _number(tkey, value)
                if name == "initialDelaySeconds":
                    if number < 0:
                        raise ValueError(f"{tkey}: must be at least 0, got {number:g}")
                elif number <= 0:
                    raise ValueError(f"{tkey}: must be greater than 0, got {number:g}")
                kwargs[attr] = number
        for name, attr in _THRESHOLD_FIELDS.items():
            if name in fields:
                tkey, value = fields[name]
                count = _integer(tkey, value)
                if count < 1:
                    raise ValueError(f"{tkey}: must be at least 1, got {count}")
                kwargs[attr] = count
        return cls(**kwargs)


class ProbeTracker:
    """Threshold state of one probe of one replica.

    The probe starts failing (readiness, startup) or passing (liveness: pass
    ``initially_passing=True``), flips to passing after ``success_threshold`` consecutive
    successes and to failing after ``failure_threshold`` consecutive failures.

    Attributes:
        spec: The probe.
        passing: Whether the probe currently passes.
        next_due: When the next probe should run (seconds, the caller's clock).
        last_output: Output of the most recent probe ("" before the first).
        last_ok: Outcome of the most recent probe, None before the first.
        consecutive_failures: Failures in a row so far.
        consecutive_successes: Successes in a row so far.
        runs: Probes recorded so far.
    """

    def __init__(self, spec: ProbeSpec, *, started_at: float, initially_passing: bool = False):
        """Start tracking a probe of a replica that started at ``started_at``.

        Args:
            spec: The probe.
            started_at: When the replica started; the first probe is due
                ``initial_delay_seconds`` later.
            initially_passing: The state before any result (True for liveness probes).
        """
        self.spec = spec
        self.passing = initially_passing
        self.next_due = started_at + spec.initial_delay_seconds
        self.last_output = ""
        self.last_ok: bool | None = None
        self.consecutive_failures = 0
        self.consecutive_successes = 0
        self.runs = 0

    def due(self, now: float) -> bool:
        """Return True when the next probe should run at ``now``."""
        return now >= self.next_due

    def record(self, ok: bool, now: float, output: str = "") -> None:
        """Record a probe result obtained at ``now`` and schedule the next probe.

        Args:
            ok: Whether the probe succeeded.
            now: When the probe finished.
            output: The probe's output, kept as :attr:`last_output`.
        """
        self.runs += 1
        self.last_ok = ok
        self.last_output = output[:MAX_OUTPUT_CHARS]
        if ok:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            if self.consecutive_successes >= self.spec.success_threshold:
                self.passing = True
        else:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            if self.consecutive_failures >= self.spec.failure_threshold:
                self.passing = False
        self.next_due = now + self.spec.period_seconds

    def record_result(self, result: ProbeResult, now: float) -> None:
        """Record a :class:`ProbeResult` (see :meth:`record`)."""
        self.record(result.ok, now, result.output)

    @property
    def failed_out(self) -> bool:
        """True when ``failure_threshold`` consecutive failures were reached (a liveness or
        startup probe that failed out means the replica must be restarted)."""
        return self.consecutive_failures >= self.spec.failure_threshold


def _fold_keys(props: object, prefix: str) -> dict[str, tuple[str, Any]]:
    """Map camelCase names to (key as written, value), accepting a capitalised first letter."""
    if not isinstance(props, Mapping):
        where = prefix.rstrip(".") or "probe"
        raise ValueError(f"{where}: expected a mapping, got {type(props).__name__}")
    folded: dict[str, tuple[str, Any]] = {}
    for key, value in props.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{prefix}{key!r}: expected a property name")
        name = key[0].lower() + key[1:]
        if name in folded:
            raise ValueError(f"{prefix}{key}: given twice ({folded[name][0]} and {key})")
        folded[name] = (prefix + key, value)
    return folded


def _port(key: str, value: object) -> int:
    """Return a port number (1..65535); named ports are not supported."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected a port number, got {value!r}")
    if not 1 <= value <= 65535:
        raise ValueError(f"{key}: expected a port number between 1 and 65535, got {value}")
    return value


def _check_known(fields: Mapping[str, tuple[str, Any]], allowed: tuple[str, ...]) -> None:
    """Raise ValueError for a key not in ``allowed``."""
    for name, (key, _) in fields.items():
        if name not in allowed:
            raise ValueError(f"{key}: unknown property (expected {', '.join(allowed)})")


def _http_get(key: str, body: object) -> dict[str, Any]:
    """Parse an ``httpGet`` handler."""
    fields = _fold_keys(body if body is not None else {}, key + ".")
    _check_known(fields, ("path", "port", "scheme", "httpHeaders", "host"))
    if "host" in fields:
        raise ValueError(f"{fields['host'][0]}: not supported (probes target the replica's host)")
    result: dict[str, Any] = {"kind": "http"}
    if "path" in fields:
        pkey, path = fields["path"]
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{pkey}: expected a path starting with '/', got {path!r}")
        result["path"] = path
    if "port" in fields:
        result["port"] = _port(*fields["port"])
    if "scheme" in fields:
        skey, scheme = fields["scheme"]
        if not isinstance(scheme, str) or scheme.lower() not in ("http", "https"):
            raise ValueError(f"{skey}: expected HTTP or HTTPS, got {scheme!r}")
        result["scheme"] = scheme.lower()
    if "httpHeaders" in fields:
        hkey, headers = fields["httpHeaders"]
        if not isinstance(headers, list):
            raise ValueError(f"{hkey}: expected a list of {{name, value}}")
        parsed: dict[str, str] = {}
        for index, item in enumerate(headers):
            ikey = f"{hkey}[{index}]"
            entry = _fold_keys(item, ikey + ".")
            _check_known(entry, ("name", "value"))
            if "name" not in entry or "value" not in entry:
                raise ValueError(f"{ikey}: expected name and value")
            name, value = entry["name"][1], entry["value"][1]
            if not isinstance(name, str) or not name or not isinstance(value, str):
                raise ValueError(f"{ikey}: name and value must be strings")
            parsed[name] = value
        result["headers"] = parsed
    return result


def _tcp_socket(key: str, body: object) -> dict[str, Any]:
    """Parse a ``tcpSocket`` handler."""
    fields = _fold_keys(body if body is not None else {}, key + ".")
    _check_known(fields, ("port",))
    result: dict[str, Any] = {"kind": "tcp"}
    if "port" in fields:
        result["port"] = _port(*fields["port"])
    return result


def _exec(key: str, body: object) -> dict[str, Any]:
    """Parse an ``exec`` handler."""
    fields = _fold_keys(body if body is not None else {}, key + ".")
    _check_known(fields, ("command",))
    if "command" not in fields:
        raise ValueError(f"{key}: expected command")
    ckey, command = fields["command"]
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str) for part in command)
    ):
        raise ValueError(f"{ckey}: expected a non-empty list of strings")
    return {"kind": "exec", "command": list(command)}


def _number(key: str, value: object) -> float:
    """Return a finite number (numeric strings accepted)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{key}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{key}: expected a finite number, got {value!r}")
    return float(value) if isinstance(value, float) else value


def _integer(key: str, value: object) -> int:
    """Return an integer (integral numeric strings accepted)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    return value
