"""stackflow's versions of the peer benchmark workloads (``/work/shared/bench/peers``).

Each is a ``@stackflow.workflow`` whose steps are ``@stackflow.step`` functions, so every step's
result is in the history, durable, before the workflow goes on:

* :func:`chain` ``N``: N steps in sequence, each adds 1 to its input; returns N.
* :func:`fanout` ``N``: N independent steps (step i returns i + 1) run with ``map``, then one
  join step that sums them; returns N(N+1)/2.
* :func:`single`: one workflow with one step (start-up latency); returns 1.

Used by ``benchmarks/peers.py`` (in a child process per run) and by the CLI timing
(``stackflow workflow run _peer_flows:single --input 0`` from the ``benchmarks`` directory).
"""

from __future__ import annotations

import stackflow


@stackflow.step
def add_one(x: int) -> int:
    """Return ``x + 1``: the trivial step of every workload."""
    return x + 1


@stackflow.step
def join(parts: list[int]) -> int:
    """Return the sum of the fan-out's results."""
    return sum(parts)


@stackflow.workflow
def chain(n: int) -> int:
    """Run ``n`` ``add_one`` steps in sequence, starting from 0."""
    x = 0
    for _ in range(n):
        x = add_one(x)
    return x


@stackflow.workflow
def fanout(n: int) -> int:
    """Run ``add_one(i)`` for i in 0..n-1 concurrently, then a join step that sums them."""
    return int(join(add_one.map(range(n))))


@stackflow.workflow
def single(_: object = None) -> int:
    """One workflow with one step: ``add_one(0)``."""
    return int(add_one(0))
