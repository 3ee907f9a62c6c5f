"""The sms app's own signals. Both are sent with ``sender=SmsCode``.

Like every custom signal since Django 4.0 (which removed ``providing_args``), the keyword
arguments are documented here rather than declared:

- ``sms_code``: the :class:`~sms.models.SmsCode` instance concerned.
"""

from __future__ import annotations

from django.dispatch import Signal

#: The gateway accepted a code for delivery. Sent from the post_save receiver.
sms_code_sent = Signal()

#: A code was verified and is now marked used. Sent after the change is committed.
sms_code_verified = Signal()
