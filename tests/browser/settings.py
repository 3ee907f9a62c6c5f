"""The example site as the browser tests serve it: DEBUG on (toolbar and panel), plus one
test-only page whose signal sender comes from the query string (the XSS probe)."""

from example_site.settings import *  # noqa: F403

DEBUG = True
ROOT_URLCONF = "tests.browser.urls"
