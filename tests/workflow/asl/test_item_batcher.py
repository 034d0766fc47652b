"""Tests for the Distributed Map ItemBatcher (stackflow.workflow.asl.item_batcher)."""

from __future__ import annotations

import json

import pytest

from stackflow.errors import WorkflowFailure
from stackflow.workflow.asl.item_batcher import (
    MAX_BATCH_BYTES,
    batch_items,
    json_size,
    validate_batcher,
)


def _size(batch: object) -> int:
    return len(json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode())


def test_max_items_splits_in_order_with_a_short_last_batch() -> None:
    batches = batch_items(list(range(7)), {"MaxItemsPerBatch": 3})
    assert batches == [{"Items": [0, 1, 2]}, {"Items": [3, 4, 5]}, {"Items": [6]}]


def test_batch_input_is_in_every_batch_and_first() -> None:
    batches = batch_items(["a", "b", "c"], {"MaxItemsPerBatch": 2}, batch_input={"job": 7})
    assert batches == [
        {"BatchInput": {"job": 7}, "Items": ["a", "b"]},
        {"BatchInput": {"job": 7}, "Items": ["c"]},
    ]
    assert list(batches[0]) == ["BatchInput", "Items"]


def test_no_items_give_no_batches() -> None:
    assert batch_items([], {"MaxItemsPerBatch": 5}) == []


def test_byte_limit_counts_envelope_and_separators_exactly() -> None:
    items = ["x" * 10] * 5  # each item is 12 bytes of JSON
    # {"Items":[]} is 12 bytes; two items: 12 + 12 + 1 + 12 = 37 bytes.
    batches = batch_items(items, {"MaxInputBytesPerBatch": 37})
    assert [len(b["Items"]) for b in batches] == [2, 2, 1]
    assert all(_size(b) <= 37 for b in batches)
    assert _size(batches[0]) == 37
    # One byte less and only one item fits per batch.
    assert len(batch_items(items, {"MaxInputBytesPerBatch": 36})) == 5


def test_byte_limit_includes_batch_input_and_utf8_bytes() -> None:
    items = ["é"] * 4  # "é" is 2 bytes in UTF-8; the JSON string is 4 bytes
    limit = _size({"BatchInput": {"k": "v"}, "Items": ["é", "é"]})
    batches = batch_items(items, {"MaxInputBytesPerBatch": limit}, batch_input={"k": "v"})
    assert [len(b["Items"]) for b in batches] == [2, 2]
    assert all(_size(b) <= limit for b in batches)


def test_both_limits_close_at_the_first_reached() -> None:
    items = [{"n": i} for i in range(10)]
    by_count = batch_items(items, {"MaxItemsPerBatch": 2, "MaxInputBytesPerBatch": 10_000})
    assert [len(b["Items"]) for b in by_count] == [2] * 5
    by_bytes = batch_items(items, {"MaxItemsPerBatch": 100, "MaxInputBytesPerBatch": 30})
    assert all(_size(b) <= 30 for b in by_bytes)
    assert sum(len(b["Items"]) for b in by_bytes) == 10
    assert [i for b in by_bytes for i in b["Items"]] == items


def test_256_kib_ceiling_applies_without_a_byte_limit() -> None:
    big = "y" * 100_000
    batches = batch_items([big] * 5, {"MaxItemsPerBatch": 1000})
    assert [len(b["Items"]) for b in batches] == [2, 2, 1]
    assert all(_size(b) <= MAX_BATCH_BYTES for b in batches)


def test_item_too_big_for_any_batch_fails_with_its_index() -> None:
    with pytest.raises(WorkflowFailure) as info:
        batch_items(["ok", "z" * 100, "ok"], {"MaxInputBytesPerBatch": 50})
    assert info.value.error == "States.ItemReaderFailed"
    assert "index 1" in (info.value.cause or "")
    assert "50 bytes" in (info.value.cause or "")


@pytest.mark.parametrize(
    "batcher",
    [
        {"MaxItemsPerBatch": 0},
        {"MaxItemsPerBatch": -3},
        {"MaxItemsPerBatch": "5"},
        {"MaxItemsPerBatch": True},
        {"MaxInputBytesPerBatch": MAX_BATCH_BYTES + 1},
    ],
)
def test_bad_runtime_limits_are_states_runtime(batcher: dict) -> None:
    with pytest.raises(WorkflowFailure) as info:
        batch_items([1], batcher)
    assert info.value.error == "States.Runtime"


def test_unresolved_path_is_refused() -> None:
    with pytest.raises(WorkflowFailure, match="MaxItemsPerBatchPath must be resolved"):
        batch_items([1], {"MaxItemsPerBatchPath": "$.n"})


def test_float_integer_limit_is_accepted() -> None:
    assert len(batch_items([1, 2, 3], {"MaxItemsPerBatch": 2.0})) == 2


def test_json_size_is_compact_utf8() -> None:
    assert json_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert json_size("€") == 5  # quotes + 3 UTF-8 bytes


@pytest.mark.parametrize(
    ("batcher", "fragment"),
    [
        ([], "must be an object"),
        ({}, "at least one of"),
        ({"BatchInput": {}}, "at least one of"),
        ({"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"}, "not have both"),
        ({"MaxItemsPerBatch": 0}, "positive integer"),
        ({"MaxInputBytesPerBatch": 262_145}, "262144"),
        ({"MaxInputBytesPerBatchPath": "n"}, "reference path"),
        ({"MaxItems": 2}, "unknown field"),
    ],
)
def test_validate_batcher_reports_problems(batcher: object, fragment: str) -> None:
    message = validate_batcher(batcher)
    assert message is not None
    assert fragment in message


@pytest.mark.parametrize(
    "batcher",
    [
        {"MaxItemsPerBatch": 10},
        {"MaxInputBytesPerBatch": 262_144, "BatchInput": {"a": 1}},
        {"MaxItemsPerBatchPath": "$.n", "MaxInputBytesPerBatchPath": "$.b"},
        {"MaxItemsPerBatch": "{% $states.input.n %}"},
    ],
)
def test_validate_batcher_accepts_valid_blocks(batcher: dict) -> None:
    assert validate_batcher(batcher) is None
