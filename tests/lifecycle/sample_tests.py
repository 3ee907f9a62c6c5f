"""Django test cases that the lifecycle tests run through Django's own test machinery."""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase, override_settings

from tests.testapp.models import Author


class SampleTests(SimpleTestCase):
    def test_passes(self) -> None:
        with override_settings(SECRET_KEY="s3cr3t-in-a-test"):
            pass

    def test_fails(self) -> None:
        self.fail("this sample test fails on purpose")


class SampleDatabaseTests(TestCase):
    def test_creates_an_author(self) -> None:
        Author.objects.create(name="in a test")
