"""Adapters to outside services that are not storage: the payment providers (see
``services/ports/payments.py``). Only ``bootstrap`` imports them."""
