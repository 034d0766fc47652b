"""Probe specs from properties and the probe threshold tracker."""

from __future__ import annotations

import pytest

from stackflow.supervise.probe_state import ProbeResult, ProbeSpec, ProbeTracker


def test_kubernetes_http_get_with_defaults() -> None:
    spec = ProbeSpec.from_properties(
        {
            "httpGet": {
                "path": "/healthz",
                "port": 8080,
                "scheme": "HTTP",
                "httpHeaders": [{"name": "X-Probe", "value": "1"}],
            }
        }
    )
    assert spec == ProbeSpec(
        kind="http", path="/healthz", port=8080, scheme="http", headers={"X-Probe": "1"}
    )
    assert (spec.initial_delay_seconds, spec.period_seconds, spec.timeout_seconds) == (0, 10, 1)
    assert (spec.success_threshold, spec.failure_threshold) == (1, 3)


def test_cloudformation_casing_and_timings() -> None:
    spec = ProbeSpec.from_properties(
        {
            "HttpGet": {"Path": "/ready", "HttpHeaders": [{"Name": "A", "Value": "b"}]},
            "InitialDelaySeconds": 2,
            "PeriodSeconds": 0.5,
            "TimeoutSeconds": "3",
            "SuccessThreshold": 2,
            "FailureThreshold": "5",
        }
    )
    assert spec.kind == "http"
    assert spec.port is None
    assert spec.path == "/ready"
    assert spec.headers == {"A": "b"}
    assert (spec.initial_delay_seconds, spec.period_seconds, spec.timeout_seconds) == (2, 0.5, 3)
    assert (spec.success_threshold, spec.failure_threshold) == (2, 5)


def test_tcp_and_exec() -> None:
    assert ProbeSpec.from_properties({"tcpSocket": {"port": "9000"}}) == ProbeSpec(
        kind="tcp", port=9000
    )
    assert ProbeSpec.from_properties({"TcpSocket": {}}) == ProbeSpec(kind="tcp")
    spec = ProbeSpec.from_properties({"Exec": {"Command": ["cat", "/tmp/healthy"]}})
    assert spec == ProbeSpec(kind="exec", command=["cat", "/tmp/healthy"])


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "exactly one of httpGet"),
        ({"httpGet": {}, "exec": {"command": ["true"]}}, "found httpGet, exec"),
        ({"httpGet": {"port": 0}}, r"httpGet\.port: expected a port number between"),
        ({"httpGet": {"port": "http"}}, r"httpGet\.port: expected a port number"),
        ({"HttpGet": {"Path": "healthz"}}, r"HttpGet\.Path: expected a path"),
        ({"httpGet": {"scheme": "ftp"}}, r"httpGet\.scheme"),
        ({"httpGet": {"httpHeaders": [{"name": "A"}]}}, r"httpGet\.httpHeaders\[0\]"),
        ({"httpGet": {"verb": "POST"}}, r"httpGet\.verb: unknown property"),
        ({"exec": {"command": "echo hi"}}, r"exec\.command: expected a non-empty list"),
        ({"exec": {}}, r"exec: expected command"),
        ({"tcpSocket": {}, "periodSeconds": 0}, "periodSeconds: must be greater than 0"),
        ({"tcpSocket": {}, "failureThreshold": 0}, "failureThreshold: must be at least 1"),
        ({"tcpSocket": {}, "successThreshold": 1.5}, "successThreshold: expected an integer"),
        ({"tcpSocket": {}, "initialDelaySeconds": -1}, "initialDelaySeconds: must be at least"),
        ({"tcpSocket": {}, "grpc": {"port": 1}}, "grpc: not supported"),
        ({"tcpSocket": {}, "period": 3}, "period: unknown probe property"),
        ({"tcpSocket": {}, "periodSeconds": 1, "PeriodSeconds": 2}, "given twice"),
        ("tcp", "probe: expected a mapping"),
    ],
)
def test_from_properties_errors(props: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProbeSpec.from_properties(props)  # type: ignore[arg-type]


def test_tracker_schedule_follows_initial_delay_and_period() -> None:
    spec = ProbeSpec(kind="tcp", initial_delay_seconds=5, period_seconds=2)
    tracker = ProbeTracker(spec, started_at=100.0)
    assert tracker.next_due == 105.0
    assert not tracker.due(104.9)
    assert tracker.due(105.0)
    tracker.record(True, 105.3)
    assert tracker.next_due == pytest.approx(107.3)
    assert not tracker.due(107.0)


def test_tracker_thresholds() -> None:
    spec = ProbeSpec(kind="tcp", success_threshold=2, failure_threshold=3)
    tracker = ProbeTracker(spec, started_at=0.0)
    assert not tracker.passing
    assert tracker.last_ok is None
    tracker.record(True, 1, "one")
    assert not tracker.passing  # one success of two
    tracker.record(True, 2, "two")
    assert tracker.passing
    assert tracker.last_output == "two"
    tracker.record(False, 3, "bad 1")
    tracker.record(False, 4, "bad 2")
    assert tracker.passing  # two failures of three
    assert tracker.consecutive_failures == 2
    assert not tracker.failed_out
    tracker.record(False, 5, "bad 3")
    assert not tracker.passing
    assert tracker.failed_out
    assert tracker.last_output == "bad 3"
    tracker.record(True, 6)
    assert tracker.consecutive_failures == 0
    assert tracker.consecutive_successes == 1
    assert not tracker.passing
    assert tracker.runs == 6


def test_liveness_tracker_starts_passing_and_keeps_bounded_output() -> None:
    tracker = ProbeTracker(
        ProbeSpec(kind="exec", command=["true"]), started_at=0, initially_passing=True
    )
    assert tracker.passing
    tracker.record_result(ProbeResult(False, "x" * 50_000), 1)
    assert tracker.passing
    assert tracker.last_ok is False
    assert len(tracker.last_output) == 10 * 1024
