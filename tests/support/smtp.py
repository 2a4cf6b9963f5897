"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it received, with optional
login (AUTH PLAIN/LOGIN over the plain connection, as a local relay may allow)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from tests.support.browser import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self):
        return message_from_bytes(self.data, policy=policy.default)

    def part(self, subtype: str) -> str:
        return self.message.get_body(preferencelist=(subtype,)).get_content()


@dataclass
class Mailbox:
    port: int
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def smtp_server(user: str | None = None, password: str | None = None):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            box.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                         envelope.original_content or envelope.content))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        login = (auth_data.login.decode(), auth_data.password.decode())
        box.logins.append(login)
        return AuthResult(success=login == (user, password))

    options = {"authenticator": authenticator, "auth_require_tls": False} if user else {}
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
