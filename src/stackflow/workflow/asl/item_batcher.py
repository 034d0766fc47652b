"""The ItemBatcher of a Distributed Map: grouping items into batches (pure, no I/O).

Step Functions' ``ItemBatcher`` turns the selected items of a Distributed Map into batches, each
passed as the input of one child execution::

    {"BatchInput": <BatchInput, when given>, "Items": [<item>, <item>, ...]}

* ``MaxItemsPerBatch`` caps the number of items in a batch.
* ``MaxInputBytesPerBatch`` caps the size of the batch object, measured as the UTF-8 bytes of its
  compact JSON (``BatchInput`` and the envelope included). AWS allows at most 256 KiB, and when
  batching without a byte limit it still closes a batch at 256 KiB, so that ceiling always applies.
* When both are given a batch closes at whichever limit is reached first.

The ``*Path`` forms and JSONata expressions are resolved by the caller, which passes plain integers.

One case AWS does not document: an item whose batch (that item alone plus the envelope) is larger
than the byte limit. It cannot be split, and a child input over the limit can never be started, so
stackflow fails the Map state with ``States.ItemReaderFailed`` (catchable, as the item reader is the
part of a Map Run that builds batches), naming the item's index and sizes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stackflow.errors import STATES_ITEM_READER_FAILED, STATES_RUNTIME, WorkflowFailure
from stackflow.types import JSON

#: The largest batch AWS accepts (256 KiB), also the ceiling when no byte limit is given.
MAX_BATCH_BYTES = 262_144
#: The fields an ItemBatcher may have.
BATCHER_FIELDS = frozenset(
    {
        "BatchInput",
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
    }
)
_LIMITS = (
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
)


def json_size(value: JSON) -> int:
    """Return the size in bytes of a value's compact UTF-8 JSON text.

    Args:
        value: Any JSON value.

    Returns:
        The number of bytes of ``json.dumps(value)`` without spaces, non-ASCII kept as UTF-8.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8"))


def _is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_batcher(batcher: Any) -> str | None:
    """Check an ItemBatcher block statically, as the definition validator does.

    Args:
        batcher: The ``ItemBatcher`` value from a Map state.

    Returns:
        A message describing the first problem found, or None when the block is valid.
    """
    if not isinstance(batcher, Mapping):
        return "ItemBatcher must be an object."
    unknown = sorted(set(batcher) - BATCHER_FIELDS)
    if unknown:
        return f"ItemBatcher has unknown field(s): {', '.join(unknown)}."
    if not any(key in batcher for key in _LIMITS):
        return (
            "ItemBatcher must have at least one of MaxItemsPerBatch, MaxItemsPerBatchPath, "
            "MaxInputBytesPerBatch or MaxInputBytesPerBatchPath."
        )
    for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        if key in batcher and key + "Path" in batcher:
            return f"ItemBatcher must not have both {key} and {key}Path."
    if "MaxItemsPerBatch" in batcher:
        value = batcher["MaxItemsPerBatch"]
        if not (_positive_int(value) or _is_jsonata(value)):
            return f"ItemBatcher MaxItemsPerBatch must be a positive integer, not {value!r}."
    if "MaxInputBytesPerBatch" in batcher:
        value = batcher["MaxInputBytesPerBatch"]
        if _is_jsonata(value):
            pass
        elif not _positive_int(value) or value > MAX_BATCH_BYTES:
            return (
                f"ItemBatcher MaxInputBytesPerBatch must be an integer from 1 to "
                f"{MAX_BATCH_BYTES} (256 KiB), not {value!r}."
            )
    for key in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"):
        if key in batcher and not (isinstance(batcher[key], str) and batcher[key].startswith("$")):
            return f"ItemBatcher {key} must be a reference path starting with '$'."
    return None


def _limit(batcher: Mapping[str, JSON], key: str, ceiling: int | None) -> int | None:
    if key + "Path" in batcher and key not in batcher:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"ItemBatcher {key}Path must be resolved to {key} before batching.",
        )
    if key not in batcher or batcher[key] is None:
        return None
    value = batcher[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _positive_int(value):
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"The value for the field '{key}' must be a positive integer, not {json.dumps(value)}.",
        )
    if ceiling is not None and value > ceiling:
        raise WorkflowFailure(
            STATES_RUNTIME,
            f"The value for the field '{key}' must be at most {ceiling}, not {value}.",
        )
    return int(value)


def batch_items(
    items: list[JSON], batcher: Mapping[str, JSON], *, batch_input: JSON = None
) -> list[JSON]:
    """Group items into batches the way a Distributed Map's ItemBatcher does.

    Items keep their order; each batch is filled greedily until adding the next item would
    exceed ``MaxItemsPerBatch`` or the byte limit (``MaxInputBytesPerBatch``, at most and by
    default 256 KiB).

    Args:
        items: The selected items (after ItemReader, ItemsPath/Items and ItemSelector).
        batcher: The ItemBatcher block with ``MaxItemsPerBatch`` / ``MaxInputBytesPerBatch``
            already resolved to integers (the ``*Path`` and JSONata forms resolved by the caller).
        batch_input: The evaluated ``BatchInput``, or None when the batcher has none.

    Returns:
        The batches, each ``{"BatchInput": batch_input, "Items": [...]}``, with ``BatchInput``
        only when ``batch_input`` is not None. No items give no batches.

    Raises:
        WorkflowFailure: ``States.Runtime`` for a limit that is not a positive integer (or a
            byte limit over 256 KiB); ``States.ItemReaderFailed`` for an item that does not fit
            in a batch on its own.
    """
    max_items = _limit(batcher, "MaxItemsPerBatch", None)
    max_bytes = _limit(batcher, "MaxInputBytesPerBatch", MAX_BATCH_BYTES) or MAX_BATCH_BYTES
    envelope: dict[str, JSON] = {}
    if batch_input is not None:
        envelope["BatchInput"] = batch_input
    envelope["Items"] = []
    base = json_size(envelope)  # the batch with an empty Items array

    batches: list[JSON] = []
    current: list[JSON] = []
    size = base
    for index, item in enumerate(items):
        item_size = json_size(item)
        if base + item_size > max_bytes:
            raise WorkflowFailure(
                STATES_ITEM_READER_FAILED,
                f"The item at index {index} does not fit in a batch: a batch holding only this "
                f"item is {base + item_size} bytes, over the MaxInputBytesPerBatch limit of "
                f"{max_bytes} bytes.",
            )
        added = item_size + (1 if current else 0)  # a comma separates it from the previous item
        full = max_items is not None and len(current) >= max_items
        if current and (full or size + added > max_bytes):
            batches.append({**envelope, "Items": current})
            current, size, added = [], base, item_size
        current.append(item)
        size += added
    if current:
        batches.append({**envelope, "Items": current})
    return batches
