"""ProviderRegistry: lookup, close-match errors, aliases and entry point registration."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest

from stackflow.errors import ProviderError
from stackflow.providers import (
    ProgressEvent,
    Provider,
    ProviderContext,
    ProviderRegistry,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
    default_registry,
)
from stackflow.providers.file_resource import FileProvider


class WidgetProvider(Provider):
    """A third-party provider used through a fake entry point."""

    schema = ResourceSchema.from_dict(
        {
            "typeName": "Acme::Widget",
            "description": "A widget.",
            "properties": {"Size": {"type": "integer", "description": "Size."}},
            "additionalProperties": False,
        }
    )
    aliases = ("Acme::Gadget",)

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        return ProgressEvent.success("w")

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        return ProgressEvent.success("w")

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        return ProgressEvent.success("w")

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        return None


def test_builtin_types_and_close_match_error():
    registry = default_registry()
    for name in (
        "Local::File",
        "Local::Directory",
        "Local::Command",
        "Local::SQLiteDatabase",
        "Stackflow::Workflow",
        "AWS::StepFunctions::StateMachine",
        "AWS::CloudFormation::CustomResource",
    ):
        assert registry.find(name) is not None, name
    assert isinstance(registry.get("Local::File"), FileProvider)
    assert registry.find("Local::Nope") is None
    assert registry.find("Custom::") is None
    with pytest.raises(ProviderError) as info:
        registry.get("Local::Fiel")
    assert info.value.code == "InvalidRequest"
    assert "Did you mean Local::File" in info.value.message


def test_register_with_aliases():
    registry = ProviderRegistry()
    provider = WidgetProvider()
    registry.register(provider, "Old::Widget")
    assert registry.types() == ["Acme::Gadget", "Acme::Widget", "Old::Widget"]
    assert registry.get("Old::Widget") is provider


class _FakeEntryPoint:
    def __init__(self, name: str, value: str, target: Any) -> None:
        self.name, self.value, self._target = name, value, target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_entry_points_register_and_bad_ones_are_skipped(monkeypatch):
    seen_groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[_FakeEntryPoint]:
        seen_groups.append(group)
        return [
            _FakeEntryPoint("Acme::Widget", "acme.widget:WidgetProvider", WidgetProvider),
            _FakeEntryPoint("Broken::Thing", "broken:Thing", ImportError("no module broken")),
            _FakeEntryPoint("Not::Provider", "x:y", object),
        ]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    registry = default_registry()
    assert seen_groups == ["stackflow.providers"]
    assert isinstance(registry.get("Acme::Widget"), WidgetProvider)
    assert isinstance(registry.get("Acme::Gadget"), WidgetProvider)
    assert registry.find("Local::File") is not None
    assert len(registry.problems) == 2
    assert any("no module broken" in p for p in registry.problems)
    assert any("not a stackflow Provider" in p for p in registry.problems)
