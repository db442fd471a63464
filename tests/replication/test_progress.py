"""A leader's view of one follower: probe, replicate and back to probing."""

from __future__ import annotations

from engine.replication.progress import SNAPSHOT_STALL_FACTOR, Progress


def test_a_probe_goes_one_at_a_time_until_it_lands() -> None:
    pr = Progress(11)
    assert not pr.replicating
    assert pr.take_probe()
    assert not pr.take_probe()  # one in flight
    assert pr.on_accepted(10)  # the probe at prev index 10 landed
    assert pr.replicating and pr.match == 10 and pr.next == 11


def test_an_answer_to_a_heartbeat_lets_the_next_probe_go() -> None:
    pr = Progress(11)
    pr.take_probe()
    assert not pr.on_accepted(0)  # a heartbeat anchored at match 0, not the probe
    assert not pr.replicating
    assert pr.take_probe()


def test_a_rejection_probes_from_the_hint_never_below_match() -> None:
    pr = Progress(11)
    pr.take_probe()
    assert pr.on_rejected(10, 4)
    assert pr.next == 5 and not pr.probe_sent
    pr.match = 6
    pr.take_probe()
    assert not pr.on_rejected(9, 2)  # stale: not the probe in flight (at 4)
    assert pr.on_rejected(4, 2)
    assert pr.next == 7  # match + 1


def test_a_replicating_follower_ignores_rejections_of_what_matches() -> None:
    pr = Progress(1)
    pr.take_probe()
    pr.on_accepted(0)
    pr.next = 21  # 20 entries pipelined
    assert pr.on_accepted(5)
    assert not pr.on_rejected(5, 5)  # index 5 is known to match
    assert pr.replicating
    assert pr.on_rejected(12, 8)
    assert not pr.replicating and pr.next == 9


def test_entries_in_flight_without_progress_are_probed_again() -> None:
    pr = Progress(1)
    pr.take_probe()
    pr.on_accepted(0)
    assert not pr.tick(2)  # nothing in flight: no stall
    pr.next = 4
    assert not pr.tick(2)
    assert pr.tick(2)
    assert not pr.replicating and pr.next == 1 and pr.stall == 0


def test_commit_notice_is_owed_for_held_entries_not_yet_told() -> None:
    pr = Progress(1)
    pr.match = 5
    assert pr.needs_commit_notice(3)
    pr.sent(3)
    assert not pr.needs_commit_notice(3)
    assert pr.needs_commit_notice(9)  # holds 5, told 3: owed up to 5
    pr.sent(5)
    assert not pr.needs_commit_notice(9)


def test_a_follower_sent_a_snapshot_is_paused_until_its_log_follows_on() -> None:
    pr = Progress(3)
    pr.match = 2
    pr.become_snapshot(40)
    assert not pr.take_probe()  # nothing goes while the snapshot is out
    assert not pr.needs_commit_notice(30)
    assert not pr.on_rejected(2, 2)  # an answer to an append sent before the snapshot
    assert not pr.on_accepted(2)  # a heartbeat's answer
    assert not pr.snapshot_landed(first_index=31)
    assert pr.on_accepted(45)  # it installed a later snapshot than the one sent: as good
    assert pr.snapshot_landed(first_index=31)
    assert pr.replicating and pr.next == 46 and pr.pending_snapshot == 0


def test_a_snapshot_without_an_answer_is_probed_again_after_a_long_stall() -> None:
    pr = Progress(3)
    pr.become_snapshot(40)
    assert not any(pr.tick(2) for _ in range(2 * SNAPSHOT_STALL_FACTOR - 1))
    assert pr.tick(2)
    assert pr.pending_snapshot == 0 and pr.take_probe()


def test_a_follower_that_lost_what_it_acknowledged_is_probed_from_what_it_holds() -> None:
    pr = Progress(1)
    pr.take_probe()
    pr.on_accepted(40)
    pr.next = 51  # then its data is wiped, with appends in flight
    assert pr.on_rejected(45, 0)  # its log is empty
    assert (pr.match, pr.next, pr.replicating) == (0, 1, False)
    # A probe at its match, rejected the same way (it was probing when the data went).
    pr = Progress(1)
    pr.take_probe()
    pr.on_accepted(40)
    pr.become_probe()
    assert pr.take_probe() and pr.on_rejected(40, 0)
    assert (pr.match, pr.next) == (0, 1)
    # A heartbeat at its match, rejected so: the cluster was idle when the data went, so no
    # append after the match index reveals it.
    pr = Progress(1)
    pr.take_probe()
    pr.on_accepted(40)
    assert pr.replicating and pr.next == 41
    assert pr.on_rejected(40, 0)
    assert (pr.match, pr.next, pr.replicating) == (0, 1, False)


def test_a_heartbeat_at_the_match_refused_probes_below_it_even_with_a_probe_lost() -> None:
    """After a power loss (fsync: os) the follower lacks what it acknowledged; the probe sent
    to it was lost, so only its refusals of heartbeats at the match can tell."""
    pr = Progress(1)
    pr.take_probe()
    pr.on_accepted(34)
    pr.become_probe()
    assert pr.take_probe()  # sent, never answered
    assert pr.on_rejected(34, 14)
    assert (pr.match, pr.next, pr.replicating, pr.probe_sent) == (14, 15, False, False)
