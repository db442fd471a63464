"""preferredLeader "return": the leader hands back only to a settled, caught-up master."""

from __future__ import annotations

from engine.replication.preferred import LeadershipReturn


def _policy() -> LeadershipReturn:
    return LeadershipReturn("node1", settle=1.0, retry=3.0, max_lag=10)


def test_hands_back_once_the_master_has_been_in_contact_long_enough() -> None:
    policy = _policy()
    assert not policy.due(
        10.5, serving=True, handed_over=False, in_contact_since=10.0, lag=0
    )  # just back
    assert policy.due(11.0, serving=True, handed_over=False, in_contact_since=10.0, lag=0)


def test_not_while_unknown_behind_or_not_serving() -> None:
    policy = _policy()
    assert not policy.due(
        20.0, serving=True, handed_over=False, in_contact_since=None, lag=0
    )  # not heard lately
    assert not policy.due(20.0, serving=True, handed_over=False, in_contact_since=10.0, lag=None)
    assert not policy.due(
        20.0, serving=True, handed_over=False, in_contact_since=10.0, lag=11
    )  # far behind
    assert not policy.due(
        20.0, serving=False, handed_over=False, in_contact_since=10.0, lag=0
    )  # no-op pending
    assert policy.due(20.0, serving=True, handed_over=False, in_contact_since=10.0, lag=10)


def test_a_hand_over_that_did_not_happen_is_retried_after_the_retry_interval() -> None:
    policy = _policy()
    assert policy.due(20.0, serving=True, handed_over=False, in_contact_since=10.0, lag=0)
    assert not policy.due(22.9, serving=True, handed_over=False, in_contact_since=10.0, lag=0)
    assert policy.due(23.0, serving=True, handed_over=False, in_contact_since=10.0, lag=0)


def test_a_leader_handed_leadership_by_a_transfer_keeps_it() -> None:
    policy = _policy()
    assert not policy.due(20.0, serving=True, handed_over=True, in_contact_since=10.0, lag=0)
