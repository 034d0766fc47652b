"""Serializing an execution's frames for the store, cheaply.

A frame is written whenever a step changes it. A Map frame carries its whole item list, which does
not change while the Map runs; writing it again with every step would make a Map over N items cost
N² bytes. So a large item list goes to a blob of its own (stored under the frame id ``-(id + 1)``),
written once, and is put back when the snapshot is loaded.
"""

from __future__ import annotations

import json
from typing import Any

from stackflow.types import JSONObject
from stackflow.workflow.asl.execstate import Frame

#: Item lists at least this long are stored apart from their frame.
SEPARATE_ITEMS_FROM = 256


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def items_key(frame_id: int) -> int:
    """Return the snapshot key of a frame's separately stored item list."""
    return -(frame_id + 1)


def frame_blobs(
    changed: dict[int, Frame], removed: tuple[int, ...], written: dict[int, int]
) -> tuple[dict[int, bytes], tuple[int, ...]]:
    """Serialize changed frames and list the keys to delete.

    Args:
        changed: Frames changed since the last commit.
        removed: Ids of frames that ended.
        written: Frame id to the ``id()`` of the item list already stored for it (updated here).

    Returns:
        The blobs to upsert and the keys to delete.
    """
    blobs: dict[int, bytes] = {}
    for fid, frame in changed.items():
        obj = frame.to_json()
        items = frame.data.get("items")
        if isinstance(items, list) and len(items) >= SEPARATE_ITEMS_FROM:
            obj["data"] = {k: v for k, v in frame.data.items() if k != "items"}
            obj["items_apart"] = True
            if written.get(fid) != id(items):
                blobs[items_key(fid)] = _dumps(items)
                written[fid] = id(items)
        blobs[fid] = _dumps(obj)
    gone: list[int] = []
    for fid in removed:
        gone.append(fid)
        if written.pop(fid, None) is not None:
            gone.append(items_key(fid))
    return blobs, tuple(gone)


def load_frames(blobs: dict[int, bytes]) -> list[JSONObject]:
    """Return the frames of a stored snapshot, with separately stored item lists put back."""
    frames: list[JSONObject] = []
    for key, blob in blobs.items():
        if key < 0:
            continue
        frame = json.loads(blob)
        if frame.pop("items_apart", False):
            frame["data"]["items"] = json.loads(blobs[items_key(frame["id"])])
        frames.append(frame)
    return frames
