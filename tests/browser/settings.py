"""The example site as the browser tests serve it: DEBUG on (toolbar and panel), plus the
test-only pages of tests/browser/views.py (the XSS probe, a page building many instances)."""

from example_site.settings import *  # noqa: F403

DEBUG = True
ROOT_URLCONF = "tests.browser.urls"
