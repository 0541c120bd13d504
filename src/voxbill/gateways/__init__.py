"""Outbound adapters to the world that are not storage, behind the services' small
interfaces: notification senders (SMTP, SMS gateway, webhooks) and payment providers
(``services/ports/payments.py``). Only ``bootstrap`` imports them."""
