from __future__ import annotations

from django.urls import path

from sms import api, views

app_name = "sms"

urlpatterns = [
    path("sms/code/", views.request_code_page, name="request-code"),
    path("sms/verify/", views.verify_code_page, name="verify"),
    path("sms/resend/", views.resend_codes_page, name="resend"),
    path("api/sms/code/", api.request_code_api, name="api-request-code"),
    path("api/sms/verify/", api.verify_code_api, name="api-verify"),
]
