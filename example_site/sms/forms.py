"""Input validation shared by the HTML pages and the JSON API (same field names in both)."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from sms.models import SmsType

validate_mobile = RegexValidator(
    r"^[0-9]{11}\Z", "Enter an 11-digit mobile number, digits only.", code="invalid_mobile"
)
validate_sms_code = RegexValidator(
    r"^[0-9]{6}\Z", "Enter the 6-digit code from the SMS.", code="invalid_sms_code"
)


class MobileField(forms.CharField):
    def __init__(self) -> None:
        super().__init__(
            label="Mobile (手机号)",
            validators=[validate_mobile],
            widget=forms.TextInput(
                attrs={"inputmode": "numeric", "maxlength": "11", "autocomplete": "tel"}
            ),
        )


class SmsTypeField(forms.TypedChoiceField):
    def __init__(self) -> None:
        super().__init__(label="Purpose (验证码类型)", choices=SmsType.choices, coerce=int)


class RequestCodeForm(forms.Form):
    mobile = MobileField()
    sms_type = SmsTypeField()
    device_sn = forms.CharField(label="Device serial (设备序列号)", required=False, max_length=64)


class VerifyCodeForm(forms.Form):
    mobile = MobileField()
    sms_code = forms.CharField(
        label="Code (验证码)",
        validators=[validate_sms_code],
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "maxlength": "6", "autocomplete": "one-time-code"}
        ),
    )
    sms_type = SmsTypeField()
