"""Restart backoff policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackflow.supervise.backoff import BackoffPolicy


def test_delay_grows_geometrically_and_is_capped() -> None:
    policy = BackoffPolicy(initial_seconds=1, factor=2, maximum_seconds=10, jitter=0)
    delays = [policy.delay(n, random_fraction=0.3) for n in range(6)]
    assert delays == [1, 2, 4, 8, 10, 10]


def test_jitter_spreads_around_the_base_delay() -> None:
    policy = BackoffPolicy(initial_seconds=4, factor=2, maximum_seconds=100, jitter=0.25)
    assert policy.delay(0, random_fraction=0.0) == pytest.approx(3.0)
    assert policy.delay(0, random_fraction=0.5) == pytest.approx(4.0)
    assert policy.delay(0, random_fraction=1.0) == pytest.approx(5.0)


def test_jittered_delay_never_exceeds_maximum_and_huge_counts_do_not_overflow() -> None:
    policy = BackoffPolicy(initial_seconds=1, factor=3, maximum_seconds=30, jitter=0.5)
    assert policy.delay(10_000, random_fraction=0.99) == 30
    assert policy.delay(10_000, random_fraction=0.0) == pytest.approx(15)
    assert policy.delay(-3, random_fraction=0.5) == 1


def test_stable_run_resets() -> None:
    policy = BackoffPolicy(reset_after_seconds=30)
    assert policy.is_stable_run(30)
    assert not policy.is_stable_run(29.9)


@given(
    restarts=st.integers(min_value=0, max_value=200),
    fraction=st.floats(min_value=0, max_value=1),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_delay_is_bounded_and_monotonic(restarts: int, fraction: float, jitter: float) -> None:
    policy = BackoffPolicy(initial_seconds=0.5, factor=1.7, maximum_seconds=45, jitter=jitter)
    delay = policy.delay(restarts, random_fraction=fraction)
    assert 0 <= delay <= 45
    assert policy.delay(restarts + 1, random_fraction=0.5) >= policy.delay(
        restarts, random_fraction=0.5
    )


def test_from_properties_reads_cloudformation_keys() -> None:
    policy = BackoffPolicy.from_properties(
        {
            "InitialDelaySeconds": 0.5,
            "Factor": "3",
            "MaxDelaySeconds": 20,
            "ResetAfterSeconds": 120,
            "Jitter": 0,
        }
    )
    assert policy == BackoffPolicy(
        initial_seconds=0.5, factor=3, maximum_seconds=20, reset_after_seconds=120, jitter=0
    )
    assert BackoffPolicy.from_properties(None) == BackoffPolicy()
    assert BackoffPolicy.from_properties({}) == BackoffPolicy()


@pytest.mark.parametrize(
    ("props", "key"),
    [
        ({"InitialDelay": 1}, "InitialDelay"),
        ({"Factor": 0.5}, "Factor"),
        ({"Factor": True}, "Factor"),
        ({"Jitter": 2}, "Jitter"),
        ({"MaxDelaySeconds": "soon"}, "MaxDelaySeconds"),
        ({"InitialDelaySeconds": -1}, "InitialDelaySeconds"),
        ({"InitialDelaySeconds": 10, "MaxDelaySeconds": 5}, "MaxDelaySeconds"),
        ({"ResetAfterSeconds": float("nan")}, "ResetAfterSeconds"),
    ],
)
def test_from_properties_errors_name_the_key(props: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key}:"):
        BackoffPolicy.from_properties(props)
