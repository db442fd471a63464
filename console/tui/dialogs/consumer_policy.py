"""The ack/nack settings of this console's consumer of a subscription (docs/CONSOLE.md,
Subscriptions actions): ack everything, or nack every Nth event to show redelivery, parking and
replay."""

from __future__ import annotations

from console.ops import outcomes
from console.ops.operations import Operations
from console.ops.outcomes import Outcome
from console.ops.subscriptions import ACTIONS, ConsumerPolicy, parse_policy
from console.tui.dialogs.form import Field, FormDialog

HINT = (
    "ack: acknowledge every event · nack_retry: deliver it again (attempt 2, 3 …) · "
    "nack_park: park it (r replays parked) · nack_skip: drop it. The rest are acked."
)


def consumer_policy(
    ops: Operations, name: str, current: ConsumerPolicy | None, *, blink: bool
) -> FormDialog[Outcome]:
    """Set what this console's consumer of ``name`` does; starts the consumer if it is not
    running here."""

    async def submit(values: dict[str, str]) -> Outcome:
        policy = parse_policy(values["action"], values["every"])
        if name in ops.subscriptions.consumer_names():
            ops.subscriptions.set_policy(name, policy)
            return outcomes.policy_set(name, policy.describe())
        await ops.subscriptions.start_consumer(name, policy)
        return outcomes.consuming(name, policy.describe())

    policy = current or ConsumerPolicy()
    return FormDialog(
        f"⚙️  Ack/nack settings of '{name}'",
        [
            Field("action", "Action:", policy.action, choices=ACTIONS),
            Field("every", "Nack every Nth event (default 1):", str(policy.every)),
        ],
        submit,
        hint=HINT,
        blink=blink,
    )
