"""Frame serialization: large item lists are stored once, apart from their frame."""

from __future__ import annotations

from stackflow.workflow.asl.execstate import Frame
from stackflow.workflow.snapshots import SEPARATE_ITEMS_FROM, frame_blobs, items_key, load_frames


def map_frame(items: list[int]) -> Frame:
    return Frame(id=3, parent=None, scope="", index=0, state="M", input={}, data={"items": items})


def test_large_item_lists_are_written_once_and_loaded_back() -> None:
    items = list(range(SEPARATE_ITEMS_FROM))
    frame = map_frame(items)
    written: dict[int, int] = {}
    first, _ = frame_blobs({3: frame}, (), written)
    assert set(first) == {3, items_key(3)}
    frame.data["running"] = 1
    second, _ = frame_blobs({3: frame}, (), written)
    assert set(second) == {3}  # the items did not change: not written again
    loaded = load_frames({**first, **second})
    assert loaded[0]["data"] == {"items": items, "running": 1}
    _, gone = frame_blobs({}, (3,), written)
    assert set(gone) == {3, items_key(3)}


def test_small_item_lists_stay_in_the_frame() -> None:
    blobs, _ = frame_blobs({3: map_frame([1, 2])}, (), {})
    assert set(blobs) == {3}
    assert load_frames(blobs)[0]["data"]["items"] == [1, 2]
