"""The notifications context's SQL: subscriptions, deliveries and attempts."""
