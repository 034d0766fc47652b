"""Shared helpers for provider tests: building requests and contexts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stackflow.providers import ProviderContext, ResourceRequest


@pytest.fixture
def make_request(tmp_path: Path) -> Callable[..., ResourceRequest]:
    """Return a factory of ResourceRequest values rooted at tmp_path."""

    def build(
        properties: dict[str, Any],
        *,
        resource_type: str = "Local::File",
        physical_id: str | None = None,
        previous_properties: dict[str, Any] | None = None,
        previous_attributes: dict[str, Any] | None = None,
        logical_id: str = "Res",
        timeout_seconds: float | None = None,
    ) -> ResourceRequest:
        return ResourceRequest(
            stack_name="demo",
            stack_id="stack-id-1",
            logical_id=logical_id,
            resource_type=resource_type,
            physical_id=physical_id,
            physical_id_hint=f"demo-{logical_id}-abc123",
            properties=properties,
            previous_properties=previous_properties,
            previous_attributes=previous_attributes,
            request_token="token-1",
            base_dir=tmp_path,
            timeout_seconds=timeout_seconds,
        )

    return build


@pytest.fixture
def context(tmp_path: Path) -> ProviderContext:
    """A provider context that records progress messages in ``context.messages``."""
    messages: list[str] = []
    ctx = ProviderContext(report=messages.append, home=tmp_path / "home")
    ctx.messages = messages  # type: ignore[attr-defined]
    return ctx
