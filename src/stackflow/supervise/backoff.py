"""Restart backoff of supervised replicas (pure: no clock reads, randomness is passed in).

A replica that keeps failing soon after it starts is restarted after a delay that grows
geometrically (``initial_seconds * factor ** restarts``), capped at ``maximum_seconds``, with a
``+-jitter`` fraction of noise so that many replicas failing together do not restart in lockstep.
A replica that ran for at least ``reset_after_seconds`` before exiting resets the count (the
caller decides that; :meth:`BackoffPolicy.is_stable_run` helps).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: CloudFormation-style property names accepted by :meth:`BackoffPolicy.from_properties`.
_PROPERTY_FIELDS = {
    "InitialDelaySeconds": "initial_seconds",
    "Factor": "factor",
    "MaxDelaySeconds": "maximum_seconds",
    "ResetAfterSeconds": "reset_after_seconds",
    "Jitter": "jitter",
}


@dataclass(frozen=True)
class BackoffPolicy:
    """How long to wait before restarting a replica that failed.

    Attributes:
        initial_seconds: Delay before the first restart after a quick failure.
        factor: Multiplier applied per further consecutive quick failure (>= 1).
        maximum_seconds: Upper bound of the delay (jitter included).
        reset_after_seconds: A replica that ran at least this long resets the failure count.
        jitter: Fraction of random noise, the delay varies by ``+-jitter * delay`` (0..1).
    """

    initial_seconds: float = 1.0
    factor: float = 2.0
    maximum_seconds: float = 60.0
    reset_after_seconds: float = 60.0
    jitter: float = 0.1

    def delay(self, restarts: int, *, random_fraction: float) -> float:
        """Return the delay before the next restart.

        Args:
            restarts: Consecutive quick failures so far before this one (0 for the first
                restart, which waits ``initial_seconds`` give or take the jitter).
            random_fraction: A random number in [0, 1); 0.5 means no jitter, 0 the lowest and
                values near 1 the highest delay.

        Returns:
            Seconds to wait, never negative and never above ``maximum_seconds``.
        """
        restarts = max(0, restarts)
        try:
            base = self.initial_seconds * math.pow(self.factor, restarts)
        except OverflowError:
            base = math.inf
        base = min(base, self.maximum_seconds)
        fraction = min(max(random_fraction, 0.0), 1.0)
        jittered = base * (1.0 + self.jitter * (2.0 * fraction - 1.0))
        return max(0.0, min(jittered, self.maximum_seconds))

    def is_stable_run(self, run_seconds: float) -> bool:
        """Return True when a replica that ran ``run_seconds`` resets the failure count."""
        return run_seconds >= self.reset_after_seconds

    @classmethod
    def from_properties(cls, props: Mapping[str, Any] | None) -> BackoffPolicy:
        """Build a policy from CloudFormation-style properties.

        Keys: ``InitialDelaySeconds``, ``Factor``, ``MaxDelaySeconds``, ``ResetAfterSeconds``,
        ``Jitter``; every one is optional and defaults to the dataclass default.

        Args:
            props: The ``RestartBackoff``-like mapping, or None for all defaults.

        Returns:
            The policy.

        Raises:
            ValueError: A key is unknown or a value has the wrong type or range; the message
                names the key.
        """
        if props is None:
            return cls()
        if not isinstance(props, Mapping):
            kind = type(props).__name__
            raise ValueError(f"expected a mapping of backoff properties, got {kind}")
        values: dict[str, float] = {}
        for key, value in props.items():
            field_name = _PROPERTY_FIELDS.get(key)
            if field_name is None:
                known = ", ".join(sorted(_PROPERTY_FIELDS))
                raise ValueError(f"{key}: unknown backoff property (expected one of {known})")
            values[field_name] = _number(key, value)
        policy = cls(**values)
        _check_range("InitialDelaySeconds", policy.initial_seconds, low=0.0)
        _check_range("Factor", policy.factor, low=1.0)
        _check_range("MaxDelaySeconds", policy.maximum_seconds, low=0.0)
        _check_range("ResetAfterSeconds", policy.reset_after_seconds, low=0.0)
        _check_range("Jitter", policy.jitter, low=0.0, high=1.0)
        if policy.maximum_seconds < policy.initial_seconds:
            raise ValueError(
                f"MaxDelaySeconds: {policy.maximum_seconds:g} is below InitialDelaySeconds "
                f"{policy.initial_seconds:g}"
            )
        return policy


def _number(key: str, value: object) -> float:
    """Return ``value`` as a float, accepting numbers and numeric strings (CFN passes strings)."""
    if isinstance(value, bool):
        raise ValueError(f"{key}: expected a number, got a boolean")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise ValueError(f"{key}: expected a number, got {value!r}") from None
    else:
        raise ValueError(f"{key}: expected a number, got {type(value).__name__}")
    if not math.isfinite(result):
        raise ValueError(f"{key}: expected a finite number, got {value!r}")
    return result


def _check_range(key: str, value: float, *, low: float, high: float | None = None) -> None:
    """Raise ValueError naming ``key`` when ``value`` is outside [low, high]."""
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{key}: must be {bound}, got {value:g}")
