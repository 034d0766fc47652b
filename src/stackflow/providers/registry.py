"""The registry of resource types: built-in providers and third-party ones from entry points.

Third-party packages register a provider class under the entry point group
``stackflow.providers``::

    [project.entry-points."stackflow.providers"]
    "Acme::Widget" = "acme_stackflow.widget:WidgetProvider"

The class is instantiated with no arguments and registered under its schema's type name and its
``aliases``. Any ``Custom::`` type maps to the custom resource provider.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import logging
from typing import Any

from stackflow.errors import ProviderError
from stackflow.providers.base import HandlerErrorCode, Provider

ENTRY_POINT_GROUP = "stackflow.providers"
CUSTOM_PREFIX = "Custom::"
CUSTOM_TYPE = "AWS::CloudFormation::CustomResource"

_log = logging.getLogger(__name__)


class ProviderRegistry:
    """Maps resource type names to providers.

    Attributes:
        problems: Messages about entry points that could not be loaded (they are skipped).
    """

    def __init__(self) -> None:
        """Create an empty registry."""
        self._providers: dict[str, Provider] = {}
        self.problems: list[str] = []

    def register(self, provider: Provider, *aliases: str) -> None:
        """Register a provider under its type name, its class aliases and ``aliases``.

        Args:
            provider: The provider instance.
            *aliases: More type names mapped to it.
        """
        names = (provider.schema.type_name, *type(provider).aliases, *aliases)
        for name in names:
            self._providers[name] = provider

    def find(self, type_name: str) -> Provider | None:
        """Return the provider of a type, or None.

        Args:
            type_name: A resource type such as ``Local::File`` or ``Custom::Anything``.

        Returns:
            The provider; any ``Custom::`` type gets the custom resource provider.
        """
        provider = self._providers.get(type_name)
        if provider is None and type_name.startswith(CUSTOM_PREFIX) and type_name != CUSTOM_PREFIX:
            provider = self._providers.get(CUSTOM_TYPE)
        return provider

    def get(self, type_name: str) -> Provider:
        """Return the provider of a type.

        Args:
            type_name: The resource type.

        Returns:
            The provider.

        Raises:
            ProviderError: InvalidRequest naming the closest known types.
        """
        provider = self.find(type_name)
        if provider is not None:
            return provider
        known = self.types()
        close = difflib.get_close_matches(str(type_name), known, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ProviderError(
            f"Unknown resource type {type_name!r}.{hint} Known types: {', '.join(known)} "
            "(and Custom::<Name>).",
            HandlerErrorCode.InvalidRequest,
        )

    def types(self) -> list[str]:
        """Return every registered type name (aliases included), sorted."""
        return sorted(self._providers)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register the providers published under an entry point group.

        An entry point that fails to load, or is not a Provider class or instance, is skipped and
        described in :attr:`problems`.

        Args:
            group: The entry point group.
        """
        for entry in importlib.metadata.entry_points(group=group):
            try:
                target: Any = entry.load()
                provider = target() if inspect.isclass(target) else target
                if not isinstance(provider, Provider):
                    raise TypeError(f"{entry.value} is not a stackflow Provider")
            except Exception as exc:
                message = (
                    f"Entry point {entry.name!r} ({entry.value}) of group {group!r} was skipped: "
                    f"{type(exc).__name__}: {exc}"
                )
                _log.warning(message)
                self.problems.append(message)
                continue
            # The entry point's name is a further alias when it looks like a type name.
            extra = [entry.name] if "::" in entry.name else []
            self.register(provider, *extra)


def _builtins() -> list[Provider]:
    from stackflow.providers.command import CommandProvider
    from stackflow.providers.custom import CustomResourceProvider
    from stackflow.providers.directory import DirectoryProvider
    from stackflow.providers.file_resource import FileProvider
    from stackflow.providers.http_trigger import HttpTriggerProvider
    from stackflow.providers.schedule import ScheduleProvider
    from stackflow.providers.service import ServiceProvider
    from stackflow.providers.sqlite_db import SQLiteDatabaseProvider
    from stackflow.providers.workflow_resource import WorkflowProvider

    return [
        FileProvider(),
        DirectoryProvider(),
        CommandProvider(),
        SQLiteDatabaseProvider(),
        WorkflowProvider(),
        ServiceProvider(),
        ScheduleProvider(),
        HttpTriggerProvider(),
        CustomResourceProvider(),
    ]


def _nested_providers() -> list[Provider]:
    """Providers defined in ``stackflow.providers.nested`` (the nested-stack type), if present."""
    try:
        module = importlib.import_module("stackflow.providers.nested")
    except ModuleNotFoundError as exc:
        if exc.name == "stackflow.providers.nested":
            return []
        raise
    found: list[Provider] = []
    for _, value in vars(module).items():
        if (
            inspect.isclass(value)
            and issubclass(value, Provider)
            and not inspect.isabstract(value)
            and value.__module__ == module.__name__
            and hasattr(value, "schema")
        ):
            found.append(value())
    return found


def default_registry() -> ProviderRegistry:
    """Build a registry with the built-in types, the nested-stack type and entry point types.

    Returns:
        The registry. Entry points are registered last, so they may replace built-ins.
    """
    registry = ProviderRegistry()
    for provider in (*_builtins(), *_nested_providers()):
        registry.register(provider)
    registry.load_entry_points()
    return registry
