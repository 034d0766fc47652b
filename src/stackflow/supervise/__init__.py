"""Process supervision building blocks for ``Local::Service`` (Linux only).

* :mod:`~stackflow.supervise.backoff` and :mod:`~stackflow.supervise.probe_state` are pure:
  restart backoff and probe threshold state, with times passed in.
* :mod:`~stackflow.supervise.probes` runs http, tcp and exec probes.
* :mod:`~stackflow.supervise.process` spawns replicas in their own process groups, names them by
  pid and start time, stops whole groups and watches exits through ``pidfd_open`` (Linux 5.3+).
* :mod:`~stackflow.supervise.logs` rotates, tails and follows replica logs.
* :mod:`~stackflow.supervise.balancer` spreads TCP connections over ready replicas.

Nothing here imports the store, stacks, CLI, API or engine.
"""

from __future__ import annotations

from stackflow.supervise.backoff import BackoffPolicy
from stackflow.supervise.balancer import TcpBalancer
from stackflow.supervise.logs import LogRotator, follow, rotated_paths, tail
from stackflow.supervise.probe_state import ProbeKind, ProbeResult, ProbeSpec, ProbeTracker
from stackflow.supervise.probes import run_probe
from stackflow.supervise.process import (
    ExitCallback,
    ExitWatcher,
    ProcessHandle,
    ProcessSpec,
    exit_code_of,
    handle_for_pid,
    is_own_child,
    is_same_process,
    parse_signal,
    spawn,
    stop,
)

__all__ = [
    "BackoffPolicy",
    "ExitCallback",
    "ExitWatcher",
    "LogRotator",
    "ProbeKind",
    "ProbeResult",
    "ProbeSpec",
    "ProbeTracker",
    "ProcessHandle",
    "ProcessSpec",
    "exit_code_of",
    "follow",
    "handle_for_pid",
    "is_own_child",
    "is_same_process",
    "parse_signal",
    "rotated_paths",
    "run_probe",
    "spawn",
    "stop",
    "TcpBalancer",
    "tail",
]
