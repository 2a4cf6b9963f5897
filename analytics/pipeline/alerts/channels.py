"""Delivery channels: e-mail over SMTP (smtplib) and a generic JSON webhook (httpx), each
retried with exponential back-off (tenacity) on connection errors, timeouts and server
errors. A delivery that still fails raises ``DeliveryError`` with a reason free of secrets."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from analytics.core.redact import configured_secrets, redact
from analytics.core.settings import Settings
from analytics.pipeline.alerts.messages import Message


class DeliveryError(Exception):
    """A channel could not deliver; the message is safe to store and show."""


class NotConfigured(DeliveryError):
    pass


def secrets(settings: Settings) -> list[str]:
    alerts = settings.alerts
    url = alerts.webhook_url.get_secret_value()
    parts = [alerts.smtp_password.get_secret_value(), url]
    if url:  # every path segment and query value of the webhook URL may be a token
        split = urlsplit(url)
        parts += [p for p in split.path.split("/") if len(p) >= 6]
        parts += [v for kv in split.query.split("&") for v in kv.split("=")[1:] if v]
    return [p for p in parts if p] + configured_secrets()


def safe_reason(exc: BaseException, settings: Settings) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact(text, secrets(settings))[:500]


def webhook_target(settings: Settings) -> str:
    """The webhook as shown to people: its host only (the path usually holds a token)."""
    url = settings.alerts.webhook_url.get_secret_value()
    return f"webhook {urlsplit(url).scheme}://{urlsplit(url).hostname}" if url else "webhook"


def _retrying(settings: Settings, retry_on):
    alerts = settings.alerts
    return retry(reraise=True, stop=stop_after_attempt(alerts.retries + 1),
                 wait=wait_exponential(multiplier=alerts.backoff_base_s,
                                       max=max(alerts.backoff_base_s * 16, 0.01)),
                 retry=retry_if_exception(retry_on))


def _smtp_transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPRecipientsRefused
                  | smtplib.SMTPSenderRefused):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError | smtplib.SMTPException)


def send_email(message: Message, settings: Settings) -> str:
    alerts = settings.alerts
    if not alerts.smtp_host or not alerts.email_recipients:
        raise NotConfigured("E-mail is not configured: set ANALYTICS_ALERT_SMTP_HOST and "
                            "ANALYTICS_ALERT_EMAIL_RECIPIENTS.")
    email = EmailMessage()
    email["Subject"] = f"[Opinion analytics] {message.title}"
    email["From"] = alerts.smtp_sender
    email["To"] = ", ".join(alerts.email_recipients)
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")

    @_retrying(settings, _smtp_transient)
    def attempt() -> None:
        context = ssl.create_default_context()
        if alerts.smtp_security == "tls":
            client = smtplib.SMTP_SSL(alerts.smtp_host, alerts.smtp_port,
                                      timeout=alerts.timeout_s, context=context)
        else:
            client = smtplib.SMTP(alerts.smtp_host, alerts.smtp_port, timeout=alerts.timeout_s)
        with client:
            if alerts.smtp_security == "starttls":
                client.starttls(context=context)
            if alerts.smtp_username:
                client.login(alerts.smtp_username, alerts.smtp_password.get_secret_value())
            client.send_message(email)

    try:
        attempt()
    except Exception as exc:
        raise DeliveryError(f"e-mail via {alerts.smtp_host}:{alerts.smtp_port} failed after "
                            f"{alerts.retries + 1} attempt(s): "
                            f"{safe_reason(exc, settings)}") from None
    return f"e-mailed {len(alerts.email_recipients)} recipient(s)"


class _ServerError(Exception):
    pass


def _webhook_transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | _ServerError)


def send_webhook(message: Message, settings: Settings) -> str:
    alerts = settings.alerts
    url = alerts.webhook_url.get_secret_value()
    if not url:
        raise NotConfigured("The webhook is not configured: set ANALYTICS_ALERT_WEBHOOK_URL.")

    @_retrying(settings, _webhook_transient)
    def attempt() -> int:
        response = httpx.post(url, json=message.payload, timeout=alerts.timeout_s)
        if response.status_code >= 500 or response.status_code == 429:
            raise _ServerError(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"HTTP {response.status_code} (not retried)")
        return response.status_code

    try:
        status = attempt()
    except Exception as exc:
        raise DeliveryError(f"{webhook_target(settings)} failed after "
                            f"{alerts.retries + 1} attempt(s) at most: "
                            f"{safe_reason(exc, settings)}") from None
    return f"{webhook_target(settings)} answered HTTP {status}"


SENDERS = {"email": send_email, "webhook": send_webhook}


def deliver(message: Message, channels, settings: Settings) -> dict[str, dict]:
    """Every channel's outcome: {"ok": bool, "detail": text}; never raises."""
    outcomes = {}
    for channel in channels:
        try:
            outcomes[channel] = {"ok": True, "detail": SENDERS[channel](message, settings)}
        except DeliveryError as exc:
            outcomes[channel] = {"ok": False, "detail": str(exc)}
        except Exception as exc:  # a bug in one channel must not stop the others
            outcomes[channel] = {"ok": False, "detail": safe_reason(exc, settings)}
    return outcomes
