"""BoundedCache: a dict that empties itself rather than grow past its limit."""

from __future__ import annotations

from signal_tracing.caches import BoundedCache


def test_it_is_emptied_when_a_new_key_would_exceed_the_limit() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    assert cache.put("a", 1) == 1
    cache.put("b", 2)
    cache.put("b", 3)  # an existing key: no room needed
    assert cache == {"a": 1, "b": 3}
    cache.put("c", 4)
    assert cache == {"c": 4}
    assert cache.get("a") is None
    assert cache.limit == 2
