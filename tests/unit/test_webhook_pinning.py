"""A webhook request goes to the address the guard checked, naming the original host."""

from __future__ import annotations

import pytest

from relay.webhook import pinned_url


@pytest.mark.parametrize(("url", "address", "expected"), [
    ("https://hooks.example.com/a?b=1", "203.0.113.5",
     ("https://203.0.113.5/a?b=1", "hooks.example.com")),
    ("http://h.example:8080/x", "2001:db8::1", ("http://[2001:db8::1]:8080/x", "h.example:8080")),
    ("http://127.0.0.1:9/hook", "127.0.0.1", ("http://127.0.0.1:9/hook", "127.0.0.1:9")),
])
def test_the_host_is_replaced_by_the_checked_address(
    url: str, address: str, expected: tuple[str, str]
) -> None:
    assert pinned_url(url, address) == expected
