"""Code workflows against peers: per-step overhead and one-step start-up, in one run.

Runs the three workloads of the peer harness (``/work/shared/bench/peers``, see its README) with
stackflow's ``@workflow``/``@step`` versions (``benchmarks/_peer_flows.py``) on SQLite
(``synchronous=FULL`` and ``NORMAL``), and the same scripts of every peer whose virtualenv exists
(``/tmp/venv-<peer>``, or ``$VENV_<PEER>``), with the README's method:

* every scenario is a whole process, timed from spawn to exit (one warm-up, then the median of
  ``--runs`` runs; the warm-up absorbs schema creation);
* per-step overhead = ``(T_chain(N) - T_single) / (N - 1)`` and ``(T_fanout(N) - T_single) / N``,
  so interpreter start, imports, store opening and shutdown cancel out;
* for DBOS the in-process ``run_s`` its scripts print is used instead (its shutdown waits on 1 s
  polling threads). stackflow's children print the same ``run_s`` figure, shown alongside.

Also timed: ``stackflow workflow run _peer_flows:single --input 0`` from ``benchmarks/`` with a
temporary ``STACKFLOW_HOME`` (the one-step workflow from the CLI, start to exit). After the runs
the SQLite files are opened again to check that every execution succeeded with every step's
``TaskSucceeded`` event stored.

Run from the repository root::

    .venv/bin/python benchmarks/peers.py                  # N=200, 7 runs each
    .venv/bin/python benchmarks/peers.py --quick --json   # N=20, 1 run (the smoke test)
    .venv/bin/python benchmarks/peers.py --peers luigi,dbos --runs 3
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
if str(_ROOT / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(_ROOT / "src"))

#: The peer harness (its scripts are run from this directory).
PEERS_DIR = Path(os.environ.get("STACKFLOW_PEERS_DIR", "/work/shared/bench/peers"))
ALL_PEERS = ("luigi", "dagster", "dagster-sqlite", "dbos", "prefect", "airflow")
WORKLOADS = ("single", "chain", "fanout")
#: Figures of the peers README (2026-11-24): wall ms/step chain, fan-out; 1-task workflow s.
README = {
    "luigi": (1.3, 1.2, 0.12),
    "dbos": (1.8, 17.7, 1.55),
    "prefect": (1.9, 3.4, 8.6),
    "dagster": (5.7, 8.6, 1.35),
    "dagster-sqlite": (33.0, 47.0, 1.9),
    "airflow": (171.0, 72.0, 7.7),
}
#: Goals: chain overhead at least this many times lower than DBOS, CLI one-step under this.
DBOS_FACTOR = 10.0
CLI_LIMIT_S = 0.3
TIMEOUT = 600.0


# ---------------------------------------------------------------------- child: one stackflow run


def child(workload: str, n: int, durability: str, db: str) -> int:
    """Run one workload in this process on the SQLite file ``db`` and print its result line.

    Args:
        workload: ``single``, ``chain`` or ``fanout``.
        n: Steps (ignored by ``single``).
        durability: ``full`` or ``normal``.
        db: SQLite file (created if missing).

    Returns:
        0 when the execution succeeded with the expected output, else 1.
    """
    import _peer_flows

    from stackflow.engine import Engine
    from stackflow.store.sqlite import SQLiteStore

    flow = getattr(_peer_flows, workload)
    expected = {"single": 1, "chain": n, "fanout": n * (n + 1) // 2}[workload]
    engine = Engine(SQLiteStore(db, durability=durability))  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        record = engine.run(flow, n)
        run_s = time.perf_counter() - started
    finally:
        engine.close()
    ok = record.status == "SUCCEEDED" and record.output == expected
    print(
        f"stackflow {workload} n={n} durability={durability} result={record.output} ok={ok} "
        f"run_s={run_s:.4f}"
    )
    return 0 if ok else 1


# ---------------------------------------------------------------------- timing whole processes


def run_once(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``cmd`` to its end; return (exit code, wall s, CPU s of the child, its output)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, text


def measure(
    commands: dict[str, list[str]], cwd: Path, env: dict[str, str], runs: int
) -> dict[str, dict[str, Any]]:
    """Time each command: one warm-up each, then ``runs`` rounds that run every command once
    (interleaved, so a slow spell of the machine hits every workload alike); per command the
    medians of wall, CPU and printed ``run_s``."""
    warm = {name: run_once(cmd, cwd, env) for name, cmd in commands.items()}
    rows: dict[str, list[tuple[int, float, float, str]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            rows[name].append(run_once(cmd, cwd, env))
    return {name: _summary(rows[name], warm[name]) for name in commands}


def _summary(
    rows: list[tuple[int, float, float, str]], warm: tuple[int, float, float, str]
) -> dict[str, Any]:
    run_s = [float(m) for r in rows for m in re.findall(r"run_s=([0-9.]+)", r[3])]
    ok = all(r[0] == 0 and "ok=False" not in r[3] for r in rows)
    result: dict[str, Any] = {
        "ok": ok,
        "wall_s": statistics.median(r[1] for r in rows),
        "cpu_s": statistics.median(r[2] for r in rows),
        "walls": [round(r[1], 4) for r in rows],
        "first_s": warm[1],
        "run_s": statistics.median(run_s) if len(run_s) == len(rows) else None,
    }
    if not ok:
        result["output_tail"] = rows[-1][3][-600:]
    return result


def per_step(times: dict[str, dict[str, Any]], key: str, n: int) -> dict[str, float | None]:
    """Per-step overhead in ms from one figure (``wall_s``, ``cpu_s`` or ``run_s``)."""
    single, chain, fan = (times[w].get(key) for w in WORKLOADS)
    if single is None or chain is None or fan is None or not all(t["ok"] for t in times.values()):
        return {"chain": None, "fanout": None}
    return {
        "chain": (chain - single) / max(n - 1, 1) * 1000,
        "fanout": (fan - single) / n * 1000,
    }


# ---------------------------------------------------------------------- stackflow


def check_durable(db: str, n: int) -> dict[str, Any]:
    """Reopen a benchmark's SQLite file: every execution must have succeeded with one stored
    ``TaskSucceeded`` per step (N for chain, N + 1 with the join for fan-out, 1 for single)."""
    from stackflow.store.sqlite import SQLiteStore

    steps = {"single": 1, "chain": n, "fanout": n + 1}
    store = SQLiteStore(db)
    try:
        found: dict[str, int] = {}
        bad = 0
        for record in store.list_executions(limit=10_000):
            history = store.get_history(record.execution_id)
            stored = sum(1 for e in history if e.type == "TaskSucceeded")
            found[record.workflow] = found.get(record.workflow, 0) + 1
            if record.status != "SUCCEEDED" or stored != steps.get(record.workflow):
                bad += 1
    finally:
        store.close()
    return {"executions": found, "incomplete": bad, "ok": bad == 0 and sum(found.values()) > 0}


def bench_stackflow(n: int, runs: int, durability: str, tmp: Path) -> dict[str, Any]:
    """Time the three workloads as whole processes on one SQLite file."""
    db = str(tmp / f"stackflow-{durability}.db")
    script = str(Path(__file__).resolve())
    commands = {
        w: [sys.executable, script, "--child", w, str(n), durability, db] for w in WORKLOADS
    }
    times = measure(commands, _HERE, dict(os.environ), runs)
    return {
        **times,
        "per_step_ms": per_step(times, "wall_s", n),
        "cpu_per_step_ms": per_step(times, "cpu_s", n),
        "in_process_per_step_ms": per_step(times, "run_s", n),
        "durable": check_durable(db, n),
    }


def bench_cli(runs: int, tmp: Path) -> dict[str, Any]:
    """Time ``stackflow workflow run _peer_flows:single --input 0`` from ``benchmarks/``."""
    script = Path(sys.executable).parent / "stackflow"
    if not script.exists():
        script = _ROOT / ".venv" / "bin" / "stackflow"
    home = tmp / "cli-home"
    env = {**os.environ, "STACKFLOW_HOME": str(home)}
    env.pop("STACKFLOW_DURABILITY", None)  # the default, full
    cmd = [str(script), "workflow", "run", "_peer_flows:single", "--input", "0"]
    result = measure({"cli": cmd}, _HERE, env, runs)["cli"]
    result["command"] = "stackflow workflow run _peer_flows:single --input 0"
    return result


def bench_python_start(runs: int) -> float:
    """Median wall time of ``python -c pass`` with this interpreter (the floor of every run)."""
    timed = measure({"python": [sys.executable, "-c", "pass"]}, _HERE, dict(os.environ), runs)
    return float(timed["python"]["wall_s"])


def sqlite_commit_us(sync: str, count: int, tmp: Path) -> float:
    """Microseconds per single-row INSERT + COMMIT in WAL mode (the durable-append floor)."""
    import sqlite3

    path = tmp / f"floor-{sync}.db"
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA synchronous={sync}")
        con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload BLOB)")
        started = time.perf_counter()
        for _ in range(count):
            con.execute("BEGIN")
            con.execute("INSERT INTO events (kind, payload) VALUES (?, ?)", ("s", b"{}"))
            con.execute("COMMIT")
        return (time.perf_counter() - started) / count * 1e6
    finally:
        con.close()


# ---------------------------------------------------------------------- peers


def venv_python(peer: str) -> Path | None:
    """The peer's interpreter (``$VENV_<PEER>`` or ``/tmp/venv-<peer>``), or None if missing."""
    base = "dagster" if peer == "dagster-sqlite" else peer
    root = os.environ.get(f"VENV_{base.upper()}", f"/tmp/venv-{base}")
    python = Path(root) / "bin" / "python"
    return python if python.exists() else None


def peer_commands(peer: str, python: Path, n: int) -> dict[str, list[str]]:
    """The peer's single, chain and fan-out commands (run from the peers directory)."""
    if peer == "airflow":
        script = [str(python), "airflow_run.py"]
        return {
            "single": [*script, "single"],
            "chain": [*script, "chain", str(n)],
            "fanout": [*script, "fanout", str(n)],
        }
    base = "dagster" if peer == "dagster-sqlite" else peer
    return {
        "single": [str(python), f"{base}_single.py"],
        "chain": [str(python), f"{base}_chain.py", str(n)],
        "fanout": [str(python), f"{base}_fanout.py", str(n)],
    }


def peer_env(peer: str, python: Path, tmp: Path) -> dict[str, str]:
    """Environment of a peer's runs, with its state in a fresh directory (as ``run_peers.py``)."""
    env = dict(os.environ)
    state = Path(tempfile.mkdtemp(prefix=f"{peer}-", dir=tmp))
    if peer == "prefect":
        env.update(PREFECT_HOME=str(state), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    elif peer == "airflow":
        env.update(AIRFLOW_HOME=str(state), AIRFLOW__CORE__LOAD_EXAMPLES="False")
        subprocess.run(
            [str(python.parent / "airflow"), "db", "migrate"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT,
        )
    elif peer == "dagster-sqlite":
        env.update(DAGSTER_HOME=str(state), BENCH_DAGSTER_PERSIST="1")
    elif peer == "dbos":
        env.update(BENCH_DBOS_DIR=str(state))
    return env


def bench_peer(peer: str, n: int, runs: int, tmp: Path) -> dict[str, Any]:
    """Time one peer's three scenarios; ``{"status": "not installed"}`` without its venv."""
    python = venv_python(peer)
    if python is None:
        return {"status": "not installed"}
    env = peer_env(peer, python, tmp)
    times = measure(peer_commands(peer, python, n), PEERS_DIR, env, runs)
    basis = "run_s" if peer == "dbos" else "wall_s"
    return {
        "status": "ok" if all(t["ok"] for t in times.values()) else "failed",
        **times,
        "basis": basis,
        "per_step_ms": per_step(times, basis, n),
        "cpu_per_step_ms": per_step(times, "cpu_s", n),
    }


# ---------------------------------------------------------------------- goals and report


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/MISS of the goals, against this run's peer figures when measured, else the README."""
    ours = report["stackflow"]["full"]["per_step_ms"]["chain"]
    inside = report["stackflow"]["full"]["in_process_per_step_ms"]["chain"]
    peers = report["peers"]

    def reference(peer: str) -> tuple[float, str]:
        measured = peers.get(peer, {}).get("per_step_ms", {}).get("chain")
        if measured is not None and peers[peer].get("status") == "ok":
            return float(measured), "measured now"
        return README[peer][0], "peers README"

    dbos, dbos_src = reference("dbos")
    luigi, luigi_src = reference("luigi")
    durable = report["stackflow"]["full"]["durable"]["ok"]
    cli = report["cli"]["wall_s"] if report["cli"]["ok"] else None
    rows = [
        {
            "goal": f"chain per-step overhead (FULL, durable) <= DBOS / {DBOS_FACTOR:g}",
            "value_ms": ours,
            "target_ms": dbos / DBOS_FACTOR,
            "reference": f"DBOS {dbos:.2f} ms/step ({dbos_src})",
            "pass": ours is not None and durable and ours <= dbos / DBOS_FACTOR,
            "in_process_ms": inside,
            "in_process_pass": inside is not None and durable and inside <= dbos / DBOS_FACTOR,
        },
        {
            "goal": "chain per-step overhead (FULL, durable) < Luigi",
            "value_ms": ours,
            "target_ms": luigi,
            "reference": f"Luigi {luigi:.2f} ms/step ({luigi_src})",
            "pass": ours is not None and durable and ours < luigi,
            "in_process_ms": inside,
            "in_process_pass": inside is not None and durable and inside < luigi,
        },
        {
            "goal": f"one-step workflow from the CLI, start to exit < {CLI_LIMIT_S} s",
            "value_ms": None if cli is None else cli * 1000,
            "target_ms": CLI_LIMIT_S * 1000,
            "reference": "DBOS 1.55 s, Dagster 1.35 s, Prefect 8.6 s, Luigi 0.12 s (README)",
            "pass": cli is not None and cli < CLI_LIMIT_S,
        },
    ]
    for row in rows:
        row["result"] = "PASS" if row["pass"] else "MISS"
        row["indicative_only"] = bool(report["environment"]["quick"])
    return rows


def _ms(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(peer: float | None, ours: float | None) -> str:
    if peer is None or ours is None or ours <= 0:
        return "-"
    return f"{peer / ours:.1f}x"


def print_report(report: dict[str, Any]) -> None:
    """Print the report as markdown tables."""
    env = report["environment"]
    n = env["n"]
    print(
        f"{env['date']}  python {env['python']}  cpus {env['cpus']}  N={n}  "
        f"runs={env['runs']} (+1 warm-up)  quick={env['quick']}\n"
    )
    ours = report["stackflow"]["full"]["per_step_ms"]
    print(
        f"| engine | 1-step workflow s | chain {n} s | fan-out {n} s | ms/step chain / fan-out "
        "| CPU ms/step chain / fan-out | x stackflow FULL (chain / fan-out) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows: list[tuple[str, dict[str, Any]]] = [
        (f"stackflow SQLite {d.upper()}", report["stackflow"][d]) for d in report["stackflow"]
    ]
    rows += [(p, r) for p, r in report["peers"].items()]
    for label, r in rows:
        if r.get("status") == "not installed":
            print(f"| {label} | not installed | | | | | |")
            continue
        if label == "dbos":
            label = "dbos (in-process run_s)"
        step, cpu = r["per_step_ms"], r["cpu_per_step_ms"]
        ratio = f"{_ratio(step['chain'], ours['chain'])} / {_ratio(step['fanout'], ours['fanout'])}"
        failed = "" if r.get("status", "ok") == "ok" else " (FAILED)"
        print(
            f"| {label}{failed} | {r['single']['wall_s']:.3f} | {r['chain']['wall_s']:.3f} "
            f"| {r['fanout']['wall_s']:.3f} | {_ms(step['chain'])} / {_ms(step['fanout'])} "
            f"| {_ms(cpu['chain'])} / {_ms(cpu['fanout'])} | {ratio} |"
        )
    print()
    for d, r in report["stackflow"].items():
        inproc = r["in_process_per_step_ms"]
        dur = r["durable"]
        print(
            f"stackflow {d.upper()}: in-process run_s per step chain {_ms(inproc['chain'])} ms, "
            f"fan-out {_ms(inproc['fanout'])} ms; stored records checked: {dur['executions']}, "
            f"incomplete {dur['incomplete']}"
        )
    cli = report["cli"]
    print(
        f"CLI `{cli['command']}` (from benchmarks/): median {cli['wall_s']:.3f} s "
        f"(first run, new home: {cli['first_s']:.3f} s), ok={cli['ok']}"
    )
    floor = report["floor"]
    print(
        f"floor: python -c pass {floor['python_start_s']:.3f} s; SQLite WAL commit "
        f"{floor['sqlite_full_us']:.0f} us FULL, {floor['sqlite_normal_us']:.0f} us NORMAL\n"
    )
    if env["quick"]:
        print("--quick: N and runs too small for the per-step figures to mean anything")
    for g in report["goals"]:
        print(
            f"{g['result']}  {g['goal']}: {_ms(g['value_ms'])} ms "
            f"(target {_ms(g['target_ms'])} ms; {g['reference']})"
        )
        if "in_process_ms" in g:
            verdict = "PASS" if g["in_process_pass"] else "MISS"
            print(f"      on stackflow's in-process run_s: {_ms(g['in_process_ms'])} ms {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one stackflow run) and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=20, 1 run (smoke test)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--n", type=int, default=None, help="steps per workload (default 200)")
    parser.add_argument("--runs", type=int, default=None, help="counted runs (default 7)")
    parser.add_argument(
        "--peers", default=",".join(ALL_PEERS), help="comma-separated peers, or 'none'"
    )
    parser.add_argument("--child", nargs=4, metavar=("WORKLOAD", "N", "DURABILITY", "DB"))
    args = parser.parse_args(argv)
    if args.child:
        workload, n, durability, db = args.child
        return child(workload, int(n), durability, db)
    n = args.n or (20 if args.quick else 200)
    runs = args.runs or (1 if args.quick else 7)
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    report: dict[str, Any] = {
        "environment": {
            "date": datetime.date.today().isoformat(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "n": n,
            "runs": runs,
            "quick": args.quick,
        }
    }
    with tempfile.TemporaryDirectory(prefix="sf-peers-") as name:
        tmp = Path(name)
        report["stackflow"] = {d: bench_stackflow(n, runs, d, tmp) for d in ("full", "normal")}
        report["cli"] = bench_cli(max(runs, 3), tmp)
        report["peers"] = {p: bench_peer(p, n, runs, tmp) for p in peers}
        report["floor"] = {
            "python_start_s": bench_python_start(max(runs, 3)),
            "sqlite_full_us": sqlite_commit_us("FULL", 50 if args.quick else 500, tmp),
            "sqlite_normal_us": sqlite_commit_us("NORMAL", 200 if args.quick else 2000, tmp),
        }
    report["goals"] = goals(report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    ok = all(report["stackflow"][d][w]["ok"] for d in report["stackflow"] for w in WORKLOADS)
    return 0 if ok and report["cli"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
