"""Stacks: plan time for 5,000 resources, apply time for 1,000 ``Local::File`` resources.

Run from the repository root (not part of CI; ``--quick`` is its smoke test)::

    .venv/bin/python benchmarks/stacks.py             # full sizes (about a minute)
    .venv/bin/python benchmarks/stacks.py --quick     # small sizes, seconds
    .venv/bin/python benchmarks/stacks.py --json

Everything runs on SQLite (``durability=full``) in a temporary home.

* ``plan``: ``stack plan`` of a new stack whose template has N ``Local::File`` resources, every
  tenth one depending on the one before it (``!Sub ${Prev.Path}``), so the planner resolves
  references and orders the graph. Template load, validation, resolution and the change set are
  all included; best of 3.
* ``apply``: ``stack apply`` creating N ``Local::File`` resources (each a small file written
  atomically, with its intent and result committed to the store) with parallelism 1 and 10.
* ``ansible``: the same N files made by ansible-core's ``file`` module (``state: touch``) over
  the local connection in one playbook, when ``ansible-playbook`` is on the PATH (or in this
  virtualenv); skipped otherwise (``pip install ansible-core`` to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT / "src") not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(_ROOT / "src"))

from stackflow.engine import Engine  # noqa: E402


def file_template(count: int, folder: str) -> str:
    """Return a template (JSON text) with ``count`` Local::File resources under ``folder``.

    Args:
        count: Number of resources.
        folder: Directory the files are written to.

    Returns:
        The template text.
    """
    resources: dict[str, Any] = {}
    for i in range(count):
        props: dict[str, Any] = {"Path": f"{folder}/f{i:05d}.txt", "Content": f"file {i}\n"}
        if i % 10 and i:
            props["Content"] = {"Fn::Sub": f"after ${{F{i - 1:05d}.Sha256}}\n"}
        resources[f"F{i:05d}"] = {"Type": "Local::File", "Properties": props}
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def measure_plan(count: int, runs: int) -> dict[str, Any]:
    """Time ``plan`` of a new stack with ``count`` resources (best of ``runs``)."""
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp, "plan.json")
        template.write_text(file_template(count, str(Path(tmp, "out"))))
        times = []
        with Engine.open(Path(tmp, "home")) as engine:
            for _ in range(runs):
                started = time.perf_counter()
                change_set = engine.stacks.plan(template, "bench-plan")
                times.append(time.perf_counter() - started)
        changes = len(change_set.changes)
    return {"resources": count, "changes": changes, "seconds": min(times)}


def measure_apply(count: int, parallelism: int) -> dict[str, Any]:
    """Time ``apply`` creating ``count`` Local::File resources with ``parallelism`` workers."""
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp, "apply.json")
        out = Path(tmp, "out")
        template.write_text(file_template(count, str(out)))
        with Engine.open(Path(tmp, "home")) as engine:
            started = time.perf_counter()
            result = engine.stacks.apply(template, "bench-apply", parallelism=parallelism)
            seconds = time.perf_counter() - started
        files = len(list(out.iterdir()))
    return {
        "resources": count,
        "parallelism": parallelism,
        "status": result.status,
        "files": files,
        "seconds": seconds,
        "per_resource_ms": seconds / count * 1000,
    }


def ansible_playbook() -> str | None:
    """Return the path of ``ansible-playbook`` when installed, else None."""
    beside = Path(sys.executable).with_name("ansible-playbook")
    if beside.exists():
        return str(beside)
    return shutil.which("ansible-playbook")


def measure_ansible(count: int) -> dict[str, Any]:
    """Time ansible-core's file module creating ``count`` files over the local connection."""
    playbook = ansible_playbook()
    if playbook is None:
        return {"skipped": "ansible-playbook not installed (pip install ansible-core)"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out")
        out.mkdir()
        book = Path(tmp, "files.yml")
        book.write_text(
            "- hosts: localhost\n"
            "  connection: local\n"
            "  gather_facts: false\n"
            "  tasks:\n"
            "    - ansible.builtin.file:\n"
            f"        path: '{out}/f{{{{ item }}}}.txt'\n"
            "        state: touch\n"
            f"      loop: '{{{{ range(0, {count}) | list }}}}'\n"
        )
        env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_NOCOLOR="1")
        env["ANSIBLE_HOME"] = str(Path(tmp, "ansible"))
        # The modules run with the Python that runs ansible (its own virtualenv, if any).
        python = Path(playbook).with_name("python3")
        env["ANSIBLE_PYTHON_INTERPRETER"] = str(python if python.exists() else sys.executable)
        started = time.perf_counter()
        proc = subprocess.run(
            [playbook, "-i", "localhost,", str(book)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - started
        files = len(list(out.iterdir()))
    if proc.returncode != 0:
        return {"error": proc.stdout[-500:] + proc.stderr[-500:]}
    return {"resources": count, "files": files, "seconds": seconds}


def main() -> int:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    plan_count, apply_count, runs = (200, 50, 1) if args.quick else (5000, 1000, 3)

    figures: dict[str, Any] = {"plan": measure_plan(plan_count, runs)}
    figures["apply"] = [measure_apply(apply_count, p) for p in (1, 10)]
    figures["ansible"] = measure_ansible(apply_count)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    plan = figures["plan"]
    print(f"plan    {plan['resources']:>5} resources   {plan['seconds']:7.2f} s")
    for row in figures["apply"]:
        print(
            f"apply   {row['resources']:>5} files  p={row['parallelism']:<2}"
            f" {row['seconds']:7.2f} s"
            f"  ({row['per_resource_ms']:.2f} ms/resource, {row['status']})"
        )
    ansible = figures["ansible"]
    if "seconds" in ansible:
        fastest = min(row["seconds"] for row in figures["apply"])
        print(
            f"ansible {ansible['resources']:>5} files        {ansible['seconds']:7.2f} s"
            f"  (stackflow is {ansible['seconds'] / fastest:.1f}x faster)"
        )
    else:
        print(f"ansible {ansible.get('skipped') or ansible.get('error')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
