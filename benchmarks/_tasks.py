"""Trivial task functions called by the benchmarks through ``python:benchmarks._tasks:NAME``."""

from __future__ import annotations

from typing import Any


def double(value: Any) -> Any:
    """Return ``value * 2``: the cheapest task that still does something with its input.

    Args:
        value: A number (a Map item).

    Returns:
        Twice the value.
    """
    return value * 2
