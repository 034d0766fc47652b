"""ResourceSchema validation and run_handler."""

from __future__ import annotations

from typing import Any

import pytest

from stackflow.errors import ProviderError
from stackflow.providers import (
    HandlerErrorCode,
    HandlerStatus,
    ProgressEvent,
    ProviderContext,
    ResourceRequest,
    ResourceSchema,
    run_handler,
)
from stackflow.providers.sqlite_db import SQLiteDatabaseProvider

try:
    from stackflow.template import KNOWN_AFTER_APPLY
except ImportError:  # the template package may not export it yet
    from stackflow.template.model import KNOWN_AFTER_APPLY

SECRET_SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Test::Secret",
        "description": "Has a write-only password.",
        "properties": {
            "Name": {"type": "string", "description": "Name."},
            "Password": {"type": "string", "minLength": 12, "description": "Secret."},
        },
        "required": ["Name"],
        "writeOnlyProperties": ["/properties/Password"],
        "additionalProperties": False,
    }
)


def test_problems_name_the_pointer():
    problems = SQLiteDatabaseProvider.schema.validate(
        {"Path": 3, "Migrations": [{"Id": "1", "Sql": "x", "Bogus": 1}], "JournalMod": "WAL"},
        pointer="/Resources/Db/Properties",
    )
    by_pointer = {p.location.pointer: p.message for p in problems}
    assert set(by_pointer) == {
        "/Resources/Db/Properties/JournalMod",
        "/Resources/Db/Properties/Path",
        "/Resources/Db/Properties/Migrations/0/Bogus",
    }
    assert "Did you mean JournalMode?" in by_pointer["/Resources/Db/Properties/JournalMod"]
    assert "AppliedMigrations" not in by_pointer["/Resources/Db/Properties/JournalMod"]
    assert "expected string, got a number" in by_pointer["/Resources/Db/Properties/Path"]
    assert "Bogus" in by_pointer["/Resources/Db/Properties/Migrations/0/Bogus"]


def test_required_and_write_only_values_hidden():
    problems = SECRET_SCHEMA.validate({"Password": "hunter2"}, pointer="/R")
    messages = [str(p) for p in problems]
    assert any("required property Name" in m for m in messages)
    assert any(p.location.pointer == "/R/Password" for p in problems)
    assert not any("hunter2" in m for m in messages)
    assert SECRET_SCHEMA.write_only == frozenset({"Password"})


def test_known_after_apply_values_are_not_checked():
    problems = SQLiteDatabaseProvider.schema.validate(
        {"Path": KNOWN_AFTER_APPLY, "Migrations": [{"Id": "1", "Sql": KNOWN_AFTER_APPLY}]},
        pointer="/p",
    )
    assert problems == []
    assert SQLiteDatabaseProvider.schema.validate({"Path": 1}, pointer="/p") != []


def test_unknown_values_do_not_hide_missing_or_misspelt_keys():
    problems = SECRET_SCHEMA.validate({"Nmae": KNOWN_AFTER_APPLY}, pointer="/p")
    messages = " ".join(p.message for p in problems)
    assert "Name" in messages and "Nmae" in messages


def _request(timeout: float | None = None) -> ResourceRequest:
    from pathlib import Path

    return ResourceRequest(
        stack_name="s",
        stack_id="id",
        logical_id="L",
        resource_type="T",
        physical_id=None,
        physical_id_hint="s-L-x",
        properties={},
        previous_properties=None,
        previous_attributes=None,
        request_token="t",
        base_dir=Path("."),
        timeout_seconds=timeout,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_run_handler_loops_with_callback_context():
    contexts: list[Any] = []

    def handler(request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        contexts.append(request.callback_context)
        count = (request.callback_context or {}).get("n", 0)
        if count < 2:
            return ProgressEvent.in_progress({"n": count + 1}, 5.0, f"step {count}")
        return ProgressEvent.success("pid", {"done": True})

    clock = FakeClock()
    messages: list[str] = []
    event = run_handler(
        handler, _request(), ProviderContext(report=messages.append), sleep=clock.sleep, clock=clock
    )
    assert event.status == HandlerStatus.SUCCESS and event.attributes == {"done": True}
    assert contexts == [None, {"n": 1}, {"n": 2}]
    assert clock.sleeps == [5.0, 5.0]
    assert messages == ["step 0", "step 1"]


def test_run_handler_timeout():
    def forever(request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        return ProgressEvent.in_progress({}, 10.0)

    clock = FakeClock()
    event = run_handler(
        forever, _request(timeout=25), ProviderContext(), sleep=clock.sleep, clock=clock
    )
    assert event.status == HandlerStatus.FAILED
    assert event.error_code == HandlerErrorCode.Timeout
    assert clock.now == pytest.approx(25.0)
    explicit = run_handler(
        forever, _request(), ProviderContext(), sleep=clock.sleep, timeout=5, clock=clock
    )
    assert explicit.error_code == HandlerErrorCode.Timeout


def test_run_handler_turns_exceptions_into_failures():
    def provider_error(request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        raise ProviderError("no such thing", "NotFound")

    def crash(request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        raise RuntimeError("kaboom")

    def wrong(request: ResourceRequest, context: ProviderContext) -> Any:
        return {"Status": "SUCCESS"}

    first = run_handler(provider_error, _request(), ProviderContext())
    assert (first.status, first.error_code, first.message) == (
        HandlerStatus.FAILED,
        "NotFound",
        "no such thing",
    )
    second = run_handler(crash, _request(), ProviderContext())
    assert second.error_code == HandlerErrorCode.InternalFailure
    assert "RuntimeError: kaboom" in second.message
    third = run_handler(wrong, _request(), ProviderContext())
    assert third.error_code == HandlerErrorCode.InternalFailure
