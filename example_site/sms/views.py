"""The HTML pages: forms posting with Django's CSRF protection, then redirect-after-post."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sms.forms import RequestCodeForm, VerifyCodeForm
from sms.models import SendStatus, SmsCode, SmsType
from sms.verification import SEND_FAILED, request_code, verify_code


@require_http_methods(["GET", "POST"])
def request_code_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = RequestCodeForm(initial={"sms_type": SmsType.REGISTER})
        return render(request, "sms/request_code.html", {"form": form})
    form = RequestCodeForm(request.POST)
    if not form.is_valid():
        return render(request, "sms/request_code.html", {"form": form}, status=400)
    code = request_code(**form.cleaned_data)
    if code.send_status == SendStatus.FAILURE:
        form.add_error(None, ValidationError(SEND_FAILED, code="sms_send_failed"))
        return render(request, "sms/request_code.html", {"form": form}, status=502)
    messages.success(request, f"A code was sent to {code.masked_mobile}. It expires in 5 minutes.")
    query = urlencode({"mobile": code.mobile, "sms_type": code.sms_type})
    return redirect(f"{reverse('sms:verify')}?{query}")


@require_http_methods(["GET", "POST"])
def verify_code_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        initial = {key: request.GET[key] for key in ("mobile", "sms_type") if key in request.GET}
        form = VerifyCodeForm(initial=initial)
        return render(request, "sms/verify_code.html", {"form": form})
    form = VerifyCodeForm(request.POST)
    if form.is_valid():
        try:
            code = verify_code(**form.cleaned_data)
        except ValidationError as error:
            form.add_error("sms_code", error)
        else:
            messages.success(request, f"Verified: {code.masked_mobile} is yours.")
            return redirect("sms:verify")
    return render(request, "sms/verify_code.html", {"form": form}, status=400)


@require_http_methods(["GET", "POST"])
def resend_codes_page(request: HttpRequest) -> HttpResponse:
    """Resend a number's unused codes: a ``save()`` in a loop, the N+1 of signals.

    The seed's receiver sends the SMS on every save, so saving each code sends it again: one
    ``post_save`` (and one ``sms_code_sent``) per code, all from the same line. Past
    ``STORM_THRESHOLD`` firings the panel warns and the request span gets a
    ``django.signal.storm`` event naming that line (docs/tutorial.md).
    """
    if request.method != "POST":
        form = RequestCodeForm(initial={"sms_type": SmsType.REGISTER})
        return render(request, "sms/resend_codes.html", {"form": form})
    form = RequestCodeForm(request.POST)
    if not form.is_valid():
        return render(request, "sms/resend_codes.html", {"form": form}, status=400)
    codes = SmsCode.objects.filter(
        mobile=form.cleaned_data["mobile"],
        sms_type=form.cleaned_data["sms_type"],
        used=False,
        send_status=SendStatus.SUCCESS,
    )
    # --8<-- [start:resend_loop]
    resent = 0
    for code in codes:
        code.save()  # sends it again: the seed's receiver runs on every save
        resent += 1
    # --8<-- [end:resend_loop]
    messages.success(request, f"{resent} codes were sent again.")
    return redirect("sms:resend")
