"""Notifications: subscriptions, the outbox's fan-out, delivery with retries (email, SMS,
webhooks). See docs/notifications.md."""
