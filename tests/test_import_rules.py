"""The import rule of DESIGN.md: pure packages import no backends; nothing imports api/cli."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "stackflow"

#: Pure packages and what they must never import.
PURE = {
    "workflow/asl": (
        "stackflow.store",
        "stackflow.executors",
        "stackflow.api",
        "stackflow.cli",
        "stackflow.engine",
        "stackflow.workflow.runtime",
        "stackflow.workflow.tasks",
    ),
    "template": (
        "stackflow.store",
        "stackflow.providers",
        "stackflow.executors",
        "stackflow.api",
        "stackflow.cli",
        "stackflow.engine",
    ),
    "graph": (
        "stackflow.store",
        "stackflow.providers",
        "stackflow.executors",
        "stackflow.api",
        "stackflow.cli",
        "stackflow.engine",
    ),
}
#: The pure modules of the scheduler (its service module does I/O and is not listed).
_SCHEDULER_FORBIDDEN = (
    "stackflow.store",
    "stackflow.providers",
    "stackflow.executors",
    "stackflow.api",
    "stackflow.cli",
    "stackflow.engine",
    "stackflow.clock",
    "stackflow.scheduler.service",
)
for _module in ("__init__.py", "expressions.py", "zones.py", "schedule.py"):
    PURE[f"scheduler/{_module}"] = _SCHEDULER_FORBIDDEN
#: I/O modules a pure package must not import.
PURE_FORBIDDEN_STDLIB = ("sqlite3", "subprocess", "socket", "httpx2", "threading", "time")


def imports_of(path: Path) -> list[str]:
    """Return every module name imported by a source file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_pure_packages_import_no_backends() -> None:
    offences = []
    for package, forbidden in PURE.items():
        root = SRC / package
        paths = [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))
        assert paths, f"{package} is missing"
        for path in paths:
            for name in imports_of(path):
                if name.startswith(forbidden) or name.split(".")[0] in PURE_FORBIDDEN_STDLIB:
                    offences.append(f"{path.relative_to(SRC)} imports {name}")
    assert offences == []


def test_only_the_composition_root_wires_backends() -> None:
    backends = ("stackflow.store.sqlite", "stackflow.store.postgres")
    allowed = {"engine.py", "store/__init__.py"}
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if rel in allowed or rel.startswith("store/"):
            continue
        for name in imports_of(path):
            if name.startswith(backends):
                offences.append(f"{rel} imports {name}")
    assert offences == []


def test_nothing_imports_api_or_cli() -> None:
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if rel.startswith(("api/", "cli/")):
            continue
        for name in imports_of(path):
            # ("stackflow.cli." and not "stackflow.cli": stackflow.client is no CLI module)
            if name in ("stackflow.api", "stackflow.cli") or name.startswith(
                ("stackflow.api.", "stackflow.cli.")
            ):
                offences.append(f"{rel} imports {name}")
    assert offences == []
