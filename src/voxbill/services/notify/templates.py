"""What an email or SMS says: Jinja2 templates rendered in a sandbox (a template can
read the event's fields, never call into Python), with defaults for every event type.
Webhooks carry the event itself (the signed JSON body), not a template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from jinja2.sandbox import SandboxedEnvironment

from voxbill.domain.notify import Channel, Event


@dataclass(frozen=True, slots=True)
class Template:
    subject: str
    text: str


#: event type -> (subject, text); ``data`` is the event's payload, ``sender_name`` who
#: the message is from. SMS sends the text alone (kept short).
DEFAULTS: Final[dict[str, Template]] = {
    "balance.low": Template(
        "Low balance on account {{ account_id }}",
        "The balance of account {{ account_id }} is {{ data.balance }} {{ data.currency }},"
        " below its alert level of {{ data.alert_balance }} {{ data.currency }}."
        " Please top up.",
    ),
    "balance.blocked": Template(
        "Account {{ account_id }} has reached its block level",
        "The balance of account {{ account_id }} is {{ data.balance }} {{ data.currency }}:"
        " calls and messages are refused until it is topped up.",
    ),
    "balance.restored": Template(
        "Account {{ account_id }} is back above its block level",
        "The balance of account {{ account_id }} is {{ data.balance }} {{ data.currency }}:"
        " calls and messages are accepted again.",
    ),
    "topup.received": Template(
        "Top-up received for account {{ account_id }}",
        "We received a top-up of {{ data.amount }} {{ data.currency }}"
        " for account {{ account_id }}.",
    ),
    "payment.failed": Template(
        "A payment for account {{ account_id }} failed",
        "A payment of {{ data.amount }} {{ data.currency }} for account {{ account_id }}"
        " failed{% if data.reason %}: {{ data.reason }}{% endif %}.",
    ),
}
FALLBACK: Final = Template(
    "{{ type }} for account {{ account_id }}",
    "Event {{ type }} for account {{ account_id }}.",
)

_env = SandboxedEnvironment(autoescape=False)


def render(event: Event, channel: Channel, sender_name: str | None) -> tuple[str, str]:
    """(subject, text) for an email or SMS about ``event``. A field a template names that
    the event lacks renders empty rather than losing the notification."""
    template = DEFAULTS.get(event.type, FALLBACK)
    context: dict[str, Any] = {
        "type": event.type,
        "account_id": event.account_id,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
        "sender_name": sender_name or "",
        "channel": channel.value,
    }
    subject = _env.from_string(template.subject).render(context)
    text = _env.from_string(template.text).render(context)
    if sender_name and channel is Channel.SMS:
        text = f"{sender_name}: {text}"
    return subject, text
