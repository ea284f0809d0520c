"""The address guard: non-public destinations are refused unless allowed; no DNS is asked."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from typing import Any

import pytest

from relay.guard import AddressRefused, check_destination

LOCALHOST = (ipaddress.IPv4Network("127.0.0.1/32"),)


class FakeDns:
    """A resolver answering from a table, recording the questions."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(
        self, host: str, port: int, family: int = 0, type: int = 0
    ) -> Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (address, port))
            for address in self.table[host]
        ]


NO_DNS = FakeDns({})


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "private (inside it: 10.0.0.1)"),
        ("::ffff:127.0.0.1", "loopback (inside it: 127.0.0.1)"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "shared address space (100.64.0.0/10)"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("64:ff9b::a9fe:a9fe", "link-local (inside it: 169.254.169.254)"),
        ("2002:7f00:1::", "loopback (inside it: 127.0.0.1)"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private (inside it: 10.0.0.1)"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    dns = FakeDns({"hooks.internal": [address]})
    with pytest.raises(AddressRefused) as caught:
        check_destination("hooks.internal", 443, (), dns)
    message = str(caught.value)
    assert message.startswith("'hooks.internal': address ")
    assert message.endswith(f" is {reason}")
    with pytest.raises(AddressRefused, match=re.escape(reason.split(" (", maxsplit=1)[0])):
        check_destination(address, 443, (), NO_DNS)
    assert NO_DNS.asked == []


def test_a_public_address_is_let_through_and_returned() -> None:
    public = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    dns = FakeDns({"hooks.example.com": public})
    assert check_destination("hooks.example.com", 443, (), dns) == [
        "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]
    assert dns.asked == ["hooks.example.com"]


def test_public_addresses_in_mapped_and_nat64_forms_are_let_through() -> None:
    for address in ("::ffff:93.184.215.14", "64:ff9b::5db8:d70e"):
        assert check_destination(address, 443, (), NO_DNS) != []


def test_an_allowed_network_lets_loopback_through() -> None:
    assert check_destination("127.0.0.1", 8080, LOCALHOST, NO_DNS) == ["127.0.0.1"]
    assert check_destination("::ffff:127.0.0.1", 8080, LOCALHOST, NO_DNS) == ["::ffff:127.0.0.1"]
    dns = FakeDns({"localhost": ["127.0.0.1", "127.0.0.1", "::1"]})
    with pytest.raises(AddressRefused, match=r"'localhost': address ::1 is loopback"):
        check_destination("localhost", 8080, LOCALHOST, dns)
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.2 is loopback"):
        check_destination("127.0.0.2", 8080, LOCALHOST, NO_DNS)


def test_one_refused_address_among_public_ones_refuses_the_host() -> None:
    dns = FakeDns({"rebind.example": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.5 is private"):
        check_destination("rebind.example", 443, (), dns)


def test_repeated_answers_are_returned_once() -> None:
    dns = FakeDns({"twice.example": ["93.184.215.14", "93.184.215.14"]})
    assert check_destination("twice.example", 443, (), dns) == ["93.184.215.14"]


def test_bracketed_ipv6_literals_are_literals() -> None:
    with pytest.raises(AddressRefused, match="::1 is loopback"):
        check_destination("[::1]", 443, (), NO_DNS)


def test_resolution_failures_are_refusals_with_the_reason() -> None:
    with pytest.raises(AddressRefused, match=r"'nowhere\.example': cannot resolve: .*not known"):
        check_destination("nowhere.example", 443, (), NO_DNS)
    with pytest.raises(AddressRefused, match="resolved to no addresses"):
        check_destination("empty.example", 443, (), FakeDns({"empty.example": []}))


def test_ports_outside_the_range_are_refused() -> None:
    with pytest.raises(AddressRefused, match="port 0"):
        check_destination("93.184.215.14", 0, (), NO_DNS)
