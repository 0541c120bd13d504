"""What an email or SMS says: Jinja2 templates rendered in a sandbox (a template reads
the event's fields and cannot call into Python), the shipped defaults for every event
type, and an operator's or reseller's own (:class:`~voxbill.domain.notify.NotifyTemplate`,
the nearest one above the subscriber wins). Webhooks carry the event itself (the signed
JSON body), not a template."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from voxbill.domain.errors import InvalidInput
from voxbill.domain.notify import Channel, Event, NotifyTemplate

log = logging.getLogger("voxbill.notify")


@dataclass(frozen=True, slots=True)
class Template:
    subject: str
    text: str


#: event type -> (subject, text). A template sees ``type``, ``account_id``,
#: ``created_at``, ``data`` (the event's payload), ``sender_name`` and ``channel``. SMS
#: sends the text alone.
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
    "price.changed": Template(
        "Price changes in plan {{ data.plan }}",
        "{{ data.changes_total }} price change(s) in plan {{ data.plan }}"
        "{% if data.priced == 'subtree' %}, which prices {{ data.accounts_priced }} of your"
        " accounts{% endif %}:"
        "{% for c in data.changes %}\n{{ c.prefix }} {{ c.destination }}: {{ c.old_rate or '-' }}"
        " -> {{ c.new_rate or 'removed' }} {{ data.currency }}/min"
        "{% if c.effective_from %} from {{ c.effective_from }}{% endif %}{% endfor %}"
        "{% if data.truncated %}\n(and more: see the plan's changes){% endif %}",
    ),
    "payment.failed": Template(
        "A payment for account {{ account_id }} failed",
        "A payment of {{ data.amount }} {{ data.currency }} for account {{ account_id }}"
        " failed{% if data.reason %}: {{ data.reason }}{% endif %}.",
    ),
    # not an event anyone subscribes to: sent to a portal user's own address at once
    # (DeliveryWorker.send_now) when it asked for a password reset link
    "portal.password_reset": Template(
        "Reset your {% if sender_name %}{{ sender_name }} {% endif %}portal password",
        "Someone (we hope you) asked to reset the portal password of {{ data.email }}.\n\n"
        "To choose a new password, open this link within {{ data.minutes }} minutes;"
        " it works once:\n\n{{ data.link }}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.",
    ),
}
FALLBACK: Final = Template(
    "{{ type }} for account {{ account_id }}",
    "Event {{ type }} for account {{ account_id }}.",
)
MAX_TEMPLATE_CHARS: Final = 20_000

_env = SandboxedEnvironment(autoescape=False)


def check_template(source: str | None, what: str) -> str | None:
    """A template an operator or reseller gives: it must compile (422 otherwise)."""
    if source is None:
        return None
    if len(source) > MAX_TEMPLATE_CHARS:
        raise InvalidInput(f"{what} longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        _env.parse(source)
    except TemplateError as exc:
        raise InvalidInput(
            f"{what} is not a valid template: {exc}", code="invalid_template"
        ) from exc
    return source


def render(event: Event, channel: Channel, own: NotifyTemplate | None) -> tuple[str, str]:
    """(subject, text) for an email or SMS about ``event``. A field the event lacks
    renders empty; an operator's template that fails to render falls back to the
    default (logged) rather than losing the notification."""
    default = DEFAULTS.get(event.type, FALLBACK)
    sender_name = own.sender_name if own is not None else None
    context: dict[str, Any] = {
        "type": event.type,
        "account_id": event.account_id,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
        "sender_name": sender_name or "",
        "channel": channel.value,
    }

    def one(source: str | None, fallback: str) -> str:
        if source is not None:
            try:
                return _env.from_string(source).render(context)
            except Exception:
                log.warning("a template of account %s failed; default used", own and own.account_id)
        return _env.from_string(fallback).render(context)

    subject = one(own.subject if own else None, default.subject)
    text = one(own.body if own else None, default.text)
    if sender_name and channel is Channel.SMS and (own is None or own.body is None):
        text = f"{sender_name}: {text}"
    return subject, text
