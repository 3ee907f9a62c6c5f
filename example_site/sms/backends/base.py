from __future__ import annotations

import dataclasses


class SmsSendError(Exception):
    """The provider did not accept the message."""


@dataclasses.dataclass(frozen=True)
class SmsMessage:
    mobile: str
    text: str


class BaseSmsBackend:
    """A gateway to an SMS provider. Subclasses implement :meth:`send`."""

    def send(self, message: SmsMessage) -> None:
        """Hand ``message`` to the provider; raise :class:`SmsSendError` if it refuses."""
        raise NotImplementedError("SMS backends must implement send().")

    def send_code(self, mobile: str, code: str) -> None:
        """Send a verification code, worded the way users receive it."""
        self.send(SmsMessage(mobile, f"Your verification code is {code}. It expires in 5 minutes."))
