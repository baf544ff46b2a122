"""A mail server that fails on demand, for the email outbox tests.

Real SMTP is outside the tests' world: this is Django's locmem backend (accepted messages land
in `django.core.mail.outbox`) with switches. The state is on the class, because Django makes a
new backend for every connection; the `mail_server` fixture installs it and resets it.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Sequence
from typing import ClassVar

from django.core.mail import EmailMessage
from django.core.mail.backends import locmem


class FlakyMailServer(locmem.EmailBackend):
    down: ClassVar[bool] = False
    refused: ClassVar[set[str]] = set()
    # Seconds each message takes, so concurrent senders overlap.
    delay: ClassVar[float] = 0.0
    # The address of every message offered to the server, accepted or not.
    offered: ClassVar[list[str]] = []

    @classmethod
    def reset(cls) -> None:
        cls.down = False
        cls.refused = set()
        cls.delay = 0.0
        cls.offered = []

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            self.offered.append(message.to[0])
            time.sleep(self.delay)
            if self.down:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if message.to[0] in self.refused:
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"No such user")})
        return super().send_messages(email_messages)
