"""A client of a stackflow server: the engine and the stacks over the HTTP API.

:class:`RemoteEngine` offers the part of :class:`~stackflow.engine.Engine` the CLI uses
(start, describe, history, list, stop, redrive, task answers, activity polling, deploy) and
``RemoteEngine.stacks`` the part of the stack service it uses (plan, apply, delete, describe,
list, events, outputs, drift). Both return the records and results the local ones return, and
raise the same :class:`~stackflow.errors.StackflowError` subclasses::

    from stackflow.client import RemoteEngine

    with RemoteEngine("http://127.0.0.1:8080", token=None) as engine:
        record = engine.start("orders", {"id": 1})
        print(engine.wait(record.execution_id).output)
"""

from typing import TYPE_CHECKING, Any

from stackflow.client.engine import RemoteEngine
from stackflow.client.http import ApiClient, NotAvailableRemotely, ServerAuthError, ServerError

if TYPE_CHECKING:
    from stackflow.client.stacks import RemoteStacks

__all__ = [
    "ApiClient",
    "NotAvailableRemotely",
    "RemoteEngine",
    "RemoteStacks",
    "ServerAuthError",
    "ServerError",
]


def __getattr__(name: str) -> Any:
    if name == "RemoteStacks":  # imported on first use: it loads the stack service's types
        from stackflow.client.stacks import RemoteStacks

        return RemoteStacks
    raise AttributeError(name)
