"""Auto-recharge: charge an account's saved card a set amount when its balance is under
a threshold, at most once per crossing (``docs/payments.md``, "Auto-recharge").

Run by ``voxbill payments recharge`` (cron). For each account with an auto-recharge: at
or above the threshold, the setting is armed again; under it and armed, a pending
payment is written within the top-up limits and the setting disarmed in one transaction
(the setting's row locked, so two runs charge once), then the provider charges the saved
card off-session; its signed event credits the balance like any top-up. A declined card
fails the payment (``payment.failed``) and stays disarmed until the balance is back up.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from decimal import Decimal

from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.domain.money import ZERO, canonical
from voxbill.domain.payments import (
    AutoRecharge,
    PaymentStatus,
    SavedCharge,
    TopUpLimitExceeded,
    check_checkout,
    checkout_amount,
)
from voxbill.services.payments.service import PAYMENT_FAILED, PaymentService


@dataclass(frozen=True, slots=True)
class RechargeOutcome:
    """``action``: charged, rearmed, above, waiting (charged for this crossing already),
    no_saved_card, failed, account_blocked (or _suspended, _closed: not charged), or a
    limit's code."""

    account_id: int
    action: str
    payment_id: str | None = None


class AutoRecharges:
    def __init__(self, payments: PaymentService) -> None:
        self._payments = payments
        self._uow = payments.uow
        self._balance = payments.ledger.balance

    def get(self, principal: Principal, account_id: int) -> AutoRecharge:
        with self._uow.transaction(readonly=True) as tx:
            access.require_visible(principal, tx.accounts.get(account_id))
            found = tx.payments.auto_recharge(account_id)
        if found is None:
            raise NotFound(f"account {account_id} has no auto-recharge")
        return found

    def set(
        self, principal: Principal, account_id: int, below: Decimal, amount: Decimal
    ) -> AutoRecharge:
        """Set up (or change) the account's auto-recharge; who may: as for a checkout."""
        with self._uow.transaction() as tx:
            account = access.require_visible(
                principal, tx.accounts.get(account_id, for_update=True)
            )
            check_checkout(principal, account)
            value = checkout_amount(amount, account.currency)
            if below < ZERO:
                raise InvalidInput("below: the threshold cannot be negative")
            current = tx.payments.auto_recharge(account.id, for_update=True)
            setting = (
                AutoRecharge(account.id, below, value)
                if current is None
                else dataclasses.replace(current, below=below, amount=value)
            )
            tx.payments.save_auto_recharge(setting)
            return setting

    def clear(self, principal: Principal, account_id: int) -> None:
        with self._uow.transaction() as tx:
            account = access.require_visible(
                principal, tx.accounts.get(account_id, for_update=True)
            )
            check_checkout(principal, account)
            if tx.payments.auto_recharge(account.id) is None:
                raise NotFound(f"account {account_id} has no auto-recharge")
            tx.payments.delete_auto_recharge(account.id)

    def run(self) -> list[RechargeOutcome]:
        """One pass over every auto-recharge (see the module's docstring)."""
        with self._uow.transaction(readonly=True) as tx:
            accounts = [setting.account_id for setting in tx.payments.auto_recharges()]
        return [self._one(account_id) for account_id in accounts]

    def _one(self, account_id: int) -> RechargeOutcome:
        balance = self._balance(account_id).balance
        payments = self._payments
        now = payments.now()
        with self._uow.transaction() as tx:
            account = tx.accounts.get(account_id, for_update=True)
            setting = tx.payments.auto_recharge(account_id, for_update=True)
            if account is None or setting is None:  # pragma: no cover - removed meanwhile
                return RechargeOutcome(account_id, "gone")
            if balance >= setting.below:
                if setting.armed:
                    return RechargeOutcome(account_id, "above")
                tx.payments.save_auto_recharge(dataclasses.replace(setting, armed=True))
                return RechargeOutcome(account_id, "rearmed")
            if not setting.armed:
                return RechargeOutcome(account_id, "waiting")
            if account.status is not AccountStatus.ACTIVE:  # a blocked account is not charged
                return RechargeOutcome(account_id, f"account_{account.status.value}")
            if setting.customer is None or setting.method is None:
                return RechargeOutcome(account_id, "no_saved_card")
            if setting.provider not in payments.providers:
                return RechargeOutcome(account_id, "not_configured")
            try:
                payment = payments.new_payment(tx, account, setting.amount, setting.provider, now)
            except TopUpLimitExceeded as exc:
                return RechargeOutcome(account_id, exc.code)
            tx.payments.save_auto_recharge(dataclasses.replace(setting, armed=False))
        charge = SavedCharge(
            payment.id,
            account_id,
            payment.amount,
            payment.currency,
            setting.customer,
            setting.method,
        )
        try:
            reference = payments.providers[setting.provider].charge_saved(charge)
        except Exception as exc:  # declined, unreachable: the payment failed, say so
            failure = str(exc)[:500]
            self._failed(payment.id, failure)
            return RechargeOutcome(account_id, "failed", payment.id)
        payments.set_reference(payment.id, reference)
        return RechargeOutcome(account_id, "charged", payment.id)

    def _failed(self, payment_id: str, failure: str) -> None:
        with self._uow.transaction() as tx:
            payment = tx.payments.get_payment(payment_id, for_update=True)
            if payment is None or payment.status is not PaymentStatus.PENDING:
                return  # pragma: no cover - an event got there first
            now = self._payments.now()
            failed = dataclasses.replace(
                payment, status=PaymentStatus.FAILED, failure=failure, updated_at=now
            )
            tx.payments.update_payment(failed)
            payload = {
                "event": PAYMENT_FAILED,
                "account_id": payment.account_id,
                "payment_id": payment.id,
                "provider": payment.provider,
                "amount": canonical(payment.amount),
                "currency": payment.currency,
                "reason": failure,
                "auto_recharge": True,
                "at": now.isoformat(),
            }
            tx.ledger.add_outbox_event(
                PAYMENT_FAILED, payment.account_id, json.dumps(payload, sort_keys=True), now
            )
