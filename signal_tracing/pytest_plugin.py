"""pytest plugin: fixtures over signal_tracing.testing (being written for issue 7)."""
