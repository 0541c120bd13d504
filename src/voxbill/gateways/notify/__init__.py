"""The notification channels: webhooks, email over SMTP, SMS through an HTTP gateway."""

from voxbill.gateways.notify.email import SmtpSender
from voxbill.gateways.notify.sms import SmsGatewaySender
from voxbill.gateways.notify.webhook import WebhookSender, resolve_allowed

__all__ = ["SmsGatewaySender", "SmtpSender", "WebhookSender", "resolve_allowed"]
