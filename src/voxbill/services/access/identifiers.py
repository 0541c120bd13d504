"""Caller identifiers: how a call's caller is recognised, and the hot-path lookup.

ANI (E.164 digits), SIP username, source IP or CIDR network, and card number + PIN (the
PIN hashed with argon2id, guarded by :mod:`voxbill.services.access.card_pins`). Each value is
unique per operator: registering a value another operator holds succeeds and tells
nothing; within one operator a duplicate is a conflict that does not say whose it is.

:meth:`IdentifierService.identify` is what charging calls for every call. Every door
passes its operator (the API key's, the SIP/RADIUS/Diameter peer's), and a lookup never
reads another operator's rows; without an operator (internal callers only) a value held
under two operators is ambiguous and identifies nobody. The rule, within the operator:

1. the source IP, when it falls in an IP identifier (the longest network), names a
   trunk T;
2. a SIP username, then an ANI, identifies its account when there is no trunk, or when
   that account is T or below T (an account's materialised ``path``): a trunk may
   assert its own subtree's callers, never another tenant's — otherwise the source
   address wins and the call is T's;
3. an asker scoped to a subtree (an API key: ``within``) sees a caller identified
   outside it as unknown, exactly as an unknown one — for a card before any PIN is
   verified.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
from typing import Any

from voxbill.domain import access
from voxbill.domain import cards as card_rules
from voxbill.domain import identifiers as values
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import in_subtree
from voxbill.domain.errors import Conflict, InvalidInput, InvalidPin, NotFound
from voxbill.domain.identifiers import (
    CallerIdentifier,
    IdentifiedCaller,
    IdentifierType,
    NewIdentifier,
)
from voxbill.domain.numbers import normalize_number
from voxbill.services.access.card_pins import CardPins
from voxbill.services.caching import TtlCache
from voxbill.services.unit_of_work import Transaction, UnitOfWork
from voxbill.serving import warm
from voxbill.settings import Settings

# the records are the domain's (storage builds them); the doors import them from here too
__all__ = ["CallerIdentifier", "IdentifiedCaller", "IdentifierService", "IdentifierType"]


class IdentifierService:
    """Registers, lists and deletes caller identifiers, and identifies the caller of
    every call (cached for ``hot_cache_seconds``)."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self._uow = uow
        self._settings = settings
        self.pins = CardPins(uow, settings)
        #: (operator, ani, sip user, ip) -> the answer, for ``hot_cache_seconds``: a new
        #: or deleted identifier is seen at once on this node, on others within the TTL
        self._found: TtlCache[tuple[Any, ...], IdentifiedCaller | None] = TtlCache(
            settings.hot_cache_seconds
        )

    def forget(self) -> None:
        """An account moved on this node: cached callers' paths are read afresh."""
        self._found.clear()

    def _ani(self, value: str) -> str:
        return normalize_number(
            value,
            default_region=self._settings.default_region,
            international_prefix=self._settings.international_prefix,
        )

    def _stored(
        self, account_id: int, operator_id: int, type_: IdentifierType, value: str, pin: str | None
    ) -> NewIdentifier:
        if type_ is not IdentifierType.CARD and pin is not None:
            raise InvalidInput("a PIN goes with a card identifier only")
        new = NewIdentifier(operator_id, account_id, type_, value)
        if type_ is IdentifierType.ANI:
            return dataclasses.replace(new, value=self._ani(value))
        if type_ is IdentifierType.SIP_USER:
            return dataclasses.replace(new, value=values.sip_user(value))
        if type_ is IdentifierType.IP:
            net = values.network(value)
            return dataclasses.replace(new, value=str(net), network=values.ip_range(net))
        number = values.card(value)
        return dataclasses.replace(new, value=number, pin_hash=self.pins.hash(values.pin(pin)))

    # -- management --------------------------------------------------------------------

    def add(
        self,
        principal: Principal,
        account_id: int,
        type_: IdentifierType,
        value: str,
        pin: str | None,
    ) -> CallerIdentifier:
        """Register a value for an account. The same value under another operator is no
        obstacle (and is not revealed); under this operator it is a :class:`Conflict`
        that does not name the account holding it."""
        with self._uow.transaction() as tx:
            account = access.require_visible(principal, tx.accounts.get(account_id))
            access.check_identifiers(principal, account)
            new = self._stored(account.id, account.operator_id, type_, value, pin)
            if tx.access.identifier_exists(new.operator_id, new.type, new.value):
                raise Conflict(f"{type_} {new.value} already identifies a caller")
            added = tx.access.insert_identifier(new)
        self._found.clear()
        return added

    def list(
        self,
        principal: Principal,
        account_id: int,
        *,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> builtins.list[CallerIdentifier]:
        """The account's identifiers in id order (a page: those after ``after_id``, at
        most ``limit``; every one when no limit)."""
        with self._uow.transaction(readonly=True) as tx:
            access.require_visible(principal, tx.accounts.get(account_id))
            return tx.access.identifiers_of(account_id, after_id=after_id, limit=limit)

    def delete(self, principal: Principal, identifier_id: int) -> CallerIdentifier:
        """Remove an identifier (and a card's PIN counters). Outside the principal's
        subtree it does not exist (:class:`NotFound`); support keys are read-only."""
        with self._uow.transaction() as tx:
            found = tx.access.identifier_by_id(identifier_id)
            account = None if found is None else tx.accounts.get(found.account_id)
            access.check_identifiers(
                principal, access.require_visible(principal, account, "identifier")
            )
            tx.card_pins.forget_card(identifier_id)
            tx.access.delete_identifier(identifier_id)
        assert found is not None
        self._found.clear()
        return found

    def _as_operator(self, account_id: int) -> Principal:
        """The command line acts with the operator's own authority over its accounts."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        return Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)

    def list_as_operator(self, account_id: int) -> builtins.list[CallerIdentifier]:
        return self.list(self._as_operator(account_id), account_id)

    def delete_as_operator(self, identifier_id: int) -> CallerIdentifier:
        with self._uow.transaction(readonly=True) as tx:
            found = tx.access.identifier_by_id(identifier_id)
        if found is None:
            raise NotFound("identifier not found")
        return self.delete(self._as_operator(found.account_id), identifier_id)

    # -- the hot path ------------------------------------------------------------------

    def identify(
        self,
        *,
        operator_id: int | None = None,
        ani: str | None = None,
        sip_user: str | None = None,
        ip: str | None = None,
        card: str | None = None,
        pin: str | None = None,
        within: str | None = None,
        asker: str | None = None,
        pin_sealed: bool = False,
        usable_only: bool = True,
    ) -> IdentifiedCaller | None:
        """The account a caller belongs to, or ``None`` (unknown caller: refuse the call).

        A card is identified by card + PIN alone; a known card (within ``within``) with a
        wrong or missing PIN raises :class:`InvalidPin`, and the guards of
        :class:`~voxbill.services.access.card_pins.CardPins` their own refusals (all
        :class:`~voxbill.domain.errors.PinRefused`, or ``PinBusy``); ``pin_sealed``: a PIN
        from voxbill's own seal of an authorized call (see ``CardPins.verify_sealed``).
        A batch card whose PIN is right but that is inactive or expired raises
        ``CardInactive`` / ``CardExpired`` unless ``usable_only`` is false (the holder's
        own view of the card). Otherwise see the module's rule.
        """
        if card is not None:
            return self._card(
                operator_id, card, pin, within, asker, sealed=pin_sealed, usable_only=usable_only
            )
        key = (operator_id, ani, sip_user, ip)
        found = self._found.get(key, lambda: self._lookup(operator_id, ani, sip_user, ip))
        if found is None or (within is not None and not in_subtree(found.path, within)):
            return None
        return found

    def _lookup(
        self, operator_id: int | None, ani: str | None, sip_user: str | None, ip: str | None
    ) -> IdentifiedCaller | None:
        attempts: list[tuple[IdentifierType, str]] = []
        if sip_user:
            attempts.append((IdentifierType.SIP_USER, sip_user.strip()))
        if ani:
            with contextlib.suppress(InvalidInput):  # not a number: no ANI match
                attempts.append((IdentifierType.ANI, self._ani(ani)))
        with self._uow.transaction(readonly=True) as tx:
            trunk = self._ip(tx, operator_id, ip) if ip else None
            for type_, value in attempts:
                callers = tx.access.find_identifiers(type_, value, operator_id)
                if len(callers) != 1:  # none, or (no operator given) held by two operators
                    continue
                if trunk is None or in_subtree(callers[0].path, trunk.path):
                    return callers[0]
        return trunk  # a trunk asserting another tenant's caller: the source address wins

    def _ip(self, tx: Transaction, operator_id: int | None, ip: str) -> IdentifiedCaller | None:
        address = values.source_address(ip)
        if address is None:
            return None
        networks = tx.access.find_network(
            address.version,
            values.hex_of(address),
            operator_id,
            min_prefix=values.MIN_PREFIX[address.version],
        )
        if not networks or (
            len(networks) == 2 and networks[1].prefix_len == networks[0].prefix_len
        ):
            return None  # two networks of the same length: ambiguous, nobody's
        return networks[0].caller

    def _card(
        self,
        operator_id: int | None,
        card: str,
        pin: str | None,
        within: str | None,
        asker: str | None,
        *,
        sealed: bool,
        usable_only: bool = True,
    ) -> IdentifiedCaller | None:
        warm.require_warm("a card's PIN check")
        try:
            number = values.card(card)
        except InvalidInput:
            return None
        # refused at once when this node's PIN checks (or the asker's share) are full,
        # before any read; a sealed PIN is an authorized call's, never refused for that
        admitted = contextlib.nullcontext() if sealed else self.pins.capacity.admitted(asker)
        with admitted:
            with self._uow.transaction(readonly=True) as tx:
                cards = tx.access.find_cards(number, operator_id)
            if len(cards) != 1:
                return None
            on_file = cards[0]
            # tenancy first: outside the asker's subtree, exactly an unknown card
            if within is not None and not in_subtree(on_file.path, within):
                return None
            # said apart from an unknown card on purpose: the switch prompts for the PIN
            # again (RADIUS h323-return-code 2); only the card's own tenants get here
            if pin is None:
                raise InvalidPin("a PIN is required for this card")
            if sealed:  # an authorized call's accounting: its state was checked then
                self.pins.verify_sealed(on_file, pin)
            else:
                self.pins.verify(on_file, pin, asker)
                # after the PIN: a guesser never learns whether a card is active
                if usable_only:
                    card_rules.check_usable(on_file.state, on_file.expires_at, self.pins.clock())
        return on_file.caller
