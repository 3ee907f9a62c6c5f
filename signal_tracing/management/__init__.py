"""``manage.py signal_map``: a static map of every signal and the receivers connected to it."""
