"""Outbound adapters to the world (SMTP, HTTP), behind the services' small interfaces;
only ``bootstrap`` imports them."""
