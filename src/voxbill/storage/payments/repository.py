"""The payments table, read and written by :class:`SqlPaymentRepository`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from voxbill.domain.money import ZERO
from voxbill.domain.payments import COUNTED_STATUSES, AutoRecharge, Payment, PaymentStatus
from voxbill.storage.schema.payments import auto_recharges, payments

_COUNTED_SETTLED = sorted(s.value for s in COUNTED_STATUSES if s is not PaymentStatus.PENDING)


def _from_row(row: Any) -> Payment:
    return Payment(
        id=row.id,
        account_id=row.account_id,
        provider=row.provider,
        amount=row.amount,
        currency=row.currency,
        status=PaymentStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        reference=row.reference,
        intent=row.intent,
        url=row.url,
        credit_transaction_id=row.credit_transaction_id,
        reversed_amount=row.reversed_amount,
        failure=row.failure,
        idempotency_scope=row.idempotency_scope,
        idempotency_key=row.idempotency_key,
        fingerprint=row.fingerprint,
    )


def _columns(payment: Payment) -> dict[str, Any]:
    return {
        "account_id": payment.account_id,
        "provider": payment.provider,
        "reference": payment.reference,
        "intent": payment.intent,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status.value,
        "url": payment.url,
        "credit_transaction_id": payment.credit_transaction_id,
        "reversed_amount": payment.reversed_amount,
        "failure": payment.failure,
        "idempotency_scope": payment.idempotency_scope,
        "idempotency_key": payment.idempotency_key,
        "fingerprint": payment.fingerprint,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }


class SqlPaymentRepository:
    """:class:`~voxbill.services.ports.payments.PaymentRepository` over one connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert_payment(self, payment: Payment) -> None:
        self._conn.execute(insert(payments).values(id=payment.id, **_columns(payment)))

    def update_payment(self, payment: Payment) -> None:
        self._conn.execute(
            update(payments).where(payments.c.id == payment.id).values(**_columns(payment))
        )

    def _one(self, where: Any, for_update: bool) -> Payment | None:
        query = select(payments).where(where)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query.limit(1)).first()
        return None if row is None else _from_row(row)

    def get_payment(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        return self._one(payments.c.id == payment_id, for_update)

    def by_reference(
        self, provider: str, reference: str, *, for_update: bool = False
    ) -> Payment | None:
        where = and_(payments.c.provider == provider, payments.c.reference == reference)
        return self._one(where, for_update)

    def by_intent(self, provider: str, intent: str, *, for_update: bool = False) -> Payment | None:
        where = and_(payments.c.provider == provider, payments.c.intent == intent)
        return self._one(where, for_update)

    def by_idempotency_key(self, scope: str, key: str) -> Payment | None:
        where = and_(payments.c.idempotency_scope == scope, payments.c.idempotency_key == key)
        return self._one(where, False)

    def counted_total(self, account_id: int, since: datetime, pending_since: datetime) -> Decimal:
        counted = or_(
            payments.c.status.in_(_COUNTED_SETTLED),
            and_(
                payments.c.status == PaymentStatus.PENDING.value,
                payments.c.created_at >= pending_since,
            ),
        )
        query = select(func.coalesce(func.sum(payments.c.amount), 0)).where(
            payments.c.account_id == account_id, payments.c.created_at >= since, counted
        )
        value = self._conn.execute(query).scalar()
        if value is None or value == 0:
            return ZERO
        return Decimal(value) if not isinstance(value, Decimal) else value

    def list_payments(
        self,
        *,
        account_id: int | None,
        status: str | None,
        before: str | None,
        limit: int,
    ) -> list[Payment]:
        query = select(payments)
        if account_id is not None:
            query = query.where(payments.c.account_id == account_id)
        if status is not None:
            query = query.where(payments.c.status == status)
        if before is not None:
            anchor = self.get_payment(before)
            if anchor is not None:
                query = query.where(
                    or_(
                        payments.c.created_at < anchor.created_at,
                        and_(
                            payments.c.created_at == anchor.created_at,
                            payments.c.id < anchor.id,
                        ),
                    )
                )
        query = query.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit)
        return [_from_row(row) for row in self._conn.execute(query)]

    # -- auto-recharge -----------------------------------------------------------------

    def auto_recharge(self, account_id: int, *, for_update: bool = False) -> AutoRecharge | None:
        query = select(auto_recharges).where(auto_recharges.c.account_id == account_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _recharge(row)

    def save_auto_recharge(self, setting: AutoRecharge) -> None:
        values = {
            "provider": setting.provider,
            "below": setting.below,
            "amount": setting.amount,
            "armed": setting.armed,
            "customer": setting.customer,
            "method": setting.method,
            "updated_at": datetime.now(UTC),
        }
        done = self._conn.execute(
            update(auto_recharges)
            .where(auto_recharges.c.account_id == setting.account_id)
            .values(**values)
        )
        if done.rowcount == 0:
            self._conn.execute(
                insert(auto_recharges).values(account_id=setting.account_id, **values)
            )

    def delete_auto_recharge(self, account_id: int) -> None:
        self._conn.execute(delete(auto_recharges).where(auto_recharges.c.account_id == account_id))

    def auto_recharges(self) -> list[AutoRecharge]:
        rows = self._conn.execute(select(auto_recharges).order_by(auto_recharges.c.account_id))
        return [_recharge(row) for row in rows]


def _recharge(row: Any) -> AutoRecharge:
    return AutoRecharge(
        account_id=row.account_id,
        below=row.below,
        amount=row.amount,
        provider=row.provider,
        armed=bool(row.armed),
        customer=row.customer,
        method=row.method,
    )
