"""The outbound URL gate (schemes, private addresses, exemptions) and robots.txt decisions.

No DNS lookups of real hosts: IP literals, `localhost`, and a stubbed resolver.
"""

from __future__ import annotations

import pytest

from monitor.collect import urlgate
from monitor.collect.robots import robots_allows
from monitor.collect.urlgate import address_reason, checked_addresses, is_fetch_url_allowed


@pytest.mark.parametrize(
    ("ip", "refused"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-global"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "address"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:c0a8:0101::1", "private"),  # 6to4 of 192.168.1.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("not-an-ip", "not an IP address"),
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("::ffff:93.184.216.34", None),
    ],
)
def test_address_reason(ip: str, refused: str | None) -> None:
    reason = address_reason(ip)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.0.0.1:8080/admin", "loopback"),
        ("https://10.0.0.5/feed.xml", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8000/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("ftp://93.184.216.34/file", "scheme 'ftp'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("data:text/html,<p>x</p>", "scheme 'data'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("/relative/path", "scheme '(none)'"),
        ("http:///no-host", "no host"),
        ("http://[::1/", "malformed"),
        ("http://93.184.216.34/", None),
        ("HTTPS://93.184.216.34:8443/feed?x=1", None),
        ("http://[2606:2800:220:1:248:1893:25c8:1946]/", None),
    ],
)
def test_is_fetch_url_allowed(url: str, refused: str | None) -> None:
    reason = is_fetch_url_allowed(url)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


# 127.0.0.1 as one number, in hex, and by name: the resolver reads each so
@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "localhost", "LOCALHOST."])
def test_names_are_checked_by_what_they_resolve_to_when_connecting(host: str) -> None:
    assert is_fetch_url_allowed(f"http://{host}/") is None  # the pre-check resolves nothing
    addresses, reason = checked_addresses(host)
    assert addresses == [] and reason is not None and "loopback" in reason


def test_one_bad_address_among_good_ones_refuses_the_name() -> None:
    answers = {"rebind.test": ["93.184.216.34", "10.0.0.7"]}
    addresses, reason = checked_addresses("rebind.test", answers.__getitem__)
    assert (addresses, reason) == ([], "rebind.test resolves to private address 10.0.0.7")


def test_a_failed_lookup_is_a_refusal() -> None:
    assert checked_addresses("no-such-host.invalid", lambda host: []) == ([], "cannot resolve no-such-host.invalid")


def test_public_answers_are_the_addresses_to_connect_to() -> None:
    answers = {"example.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}
    assert checked_addresses("Example.Test.", answers.__getitem__) == (answers["example.test"], None)


def test_resolve_host() -> None:
    assert urlgate.resolve_host("10.0.0.1") == ["10.0.0.1"]
    assert "127.0.0.1" in urlgate.resolve_host("localhost")


@pytest.mark.parametrize(
    ("url", "source_host", "allowed"),
    [
        ("http://127.0.0.1:8080/feed.xml", "127.0.0.1", True),
        ("http://localhost/page", "LOCALHOST", True),
        ("http://[::1]/x", "[::1]", True),
        ("http://192.168.1.5/intranet-news", "192.168.1.5", True),
        ("http://192.168.1.6/other", "192.168.1.5", False),
        ("http://10.0.0.1/", "example.com", False),
        ("ftp://127.0.0.1/", "127.0.0.1", False),  # the exemption is for addresses, not schemes
    ],
)
def test_the_source_host_is_exempt(url: str, source_host: str, allowed: bool) -> None:
    assert (is_fetch_url_allowed(url, source_host=source_host) is None) is allowed


def test_allow_private() -> None:
    for url in ("http://127.0.0.1/", "http://10.0.0.1/", "http://[fe80::1]/", "http://localhost/"):
        assert is_fetch_url_allowed(url, allow_private=True) is None
    assert is_fetch_url_allowed("javascript:alert(1)", allow_private=True) is not None


ROBOTS = """\
User-agent: *
Disallow: /private/
Allow: /private/press/

User-agent: claim-monitor
Disallow: /search
Disallow: /admin/
"""


@pytest.mark.parametrize(
    ("robots_txt", "user_agent", "url", "allowed"),
    [
        (ROBOTS, "claim-monitor/0.1 (+https://example.org)", "https://h.example/news/1.html", True),
        (ROBOTS, "claim-monitor/0.1 (+https://example.org)", "https://h.example/search?q=chips", False),
        (ROBOTS, "claim-monitor/0.1 (+https://example.org)", "https://h.example/private/x", True),  # own group only
        (ROBOTS, "OtherBot/2.0", "https://h.example/private/x", False),
        (ROBOTS, "OtherBot/2.0", "https://h.example/search", True),
        ("", "claim-monitor/0.1", "https://h.example/anything", True),
        ("User-agent: *\nDisallow: /\n", "claim-monitor/0.1", "https://h.example/", False),
        ("User-agent: *\nDisallow:\n", "claim-monitor/0.1", "https://h.example/x", True),
        ("<html>not a robots file</html>", "claim-monitor/0.1", "https://h.example/x", True),
    ],
)
def test_robots_allows(robots_txt: str, user_agent: str, url: str, allowed: bool) -> None:
    assert robots_allows(robots_txt, user_agent, url) is allowed
