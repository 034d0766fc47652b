"""The lease rule the stack and service stores share (a stack's lock, a service's lease)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["lease_is_free"]


def lease_is_free(
    holder: str | None,
    expires: float | None,
    owner: str,
    now: float,
    break_if: Callable[[str], bool] | None,
) -> bool:
    """Tell whether ``owner`` may take a lease held by ``holder`` until ``expires``.

    It may when nobody holds it, ``owner`` already does, it expired at ``now``, or
    ``break_if(holder)`` says the holder is gone (asked only when nothing else frees it).
    """
    return (
        holder is None
        or holder == owner
        or (expires is not None and expires <= now)
        or (break_if is not None and bool(break_if(holder)))
    )
