"""The JSON endpoints: ``POST /api/sms/code/`` and ``POST /api/sms/verify/``.

CSRF: these views are ``csrf_exempt`` because they act on no cookie, session or login, so a
forged cross-site request could do nothing an attacker can't do by calling them directly.
They also accept only ``Content-Type: application/json``, which a cross-site HTML form cannot
send and a cross-origin script can only send after a CORS preflight that this site refuses.
If an endpoint ever acts for a logged-in user, drop the exemption and have clients send the
``X-CSRFToken`` header (https://docs.djangoproject.com/en/stable/howto/csrf/).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sms.forms import RequestCodeForm, VerifyCodeForm
from sms.models import SendStatus
from sms.verification import SEND_FAILED, request_code, verify_code


def _error(status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse(
        {"errors": {"__all__": [{"message": message, "code": code}]}}, status=status
    )


def _errors(form: forms.Form) -> JsonResponse:
    return JsonResponse({"errors": form.errors.get_json_data()}, status=400)


def _bound_form(request: HttpRequest, form_class: type[forms.Form]) -> forms.Form | JsonResponse:
    """Parse the body into ``form_class``, or return the 4xx response explaining why not."""
    if request.content_type != "application/json":
        return _error(
            415,
            "Send the body as JSON with the header Content-Type: application/json.",
            "unsupported_media_type",
        )
    try:
        payload: Any = json.loads(request.body)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON; absurdly deep nesting
        return _error(400, "The body is not valid JSON.", "invalid_json")
    if not isinstance(payload, dict):
        return _error(400, 'Send a JSON object, such as {"mobile": "13800138000"}.', "not_object")
    # A form would see an array or object as its str(); name the real problem instead.
    type_errors = {
        name: [{"message": "Expected a string or a number.", "code": "invalid_type"}]
        for name in form_class.base_fields
        if isinstance(payload.get(name), (dict, list, bool))
    }
    if type_errors:
        return JsonResponse({"errors": type_errors}, status=400)
    return form_class(data=payload)


@csrf_exempt
@require_POST
def request_code_api(request: HttpRequest) -> HttpResponse:
    form = _bound_form(request, RequestCodeForm)
    if isinstance(form, JsonResponse):
        return form
    if not form.is_valid():
        return _errors(form)
    code = request_code(**form.cleaned_data)
    if code.send_status == SendStatus.FAILURE:
        return _error(502, SEND_FAILED, "sms_send_failed")
    assert code.expire_time is not None
    return JsonResponse(
        {"mobile": code.mobile, "sms_type": code.sms_type, "expire_time": code.expire_time},
        status=201,
    )


@csrf_exempt
@require_POST
def verify_code_api(request: HttpRequest) -> HttpResponse:
    form = _bound_form(request, VerifyCodeForm)
    if isinstance(form, JsonResponse):
        return form
    if not form.is_valid():
        return _errors(form)
    try:
        code = verify_code(**form.cleaned_data)
    except ValidationError as error:
        form.add_error("sms_code", error)
        return _errors(form)
    return JsonResponse({"mobile": code.mobile, "sms_type": code.sms_type, "verified": True})
