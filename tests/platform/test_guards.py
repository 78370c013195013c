"""The checks that stand before any work, one branch each, expectations written out by hand: JSON depth,
outbound addresses and URLs, rate limits, secrets blanked from kept responses, attachment names."""

from __future__ import annotations

import time

import pytest

from daifa.api.guards import too_deep
from daifa.api.idempotency import blank_secrets
from daifa.api.ratelimit import Buckets, RateLimit
from daifa.api.routers.documents import content_disposition
from daifa.errors import InvalidInput, RateLimited
from daifa.services.outbound import Outbound, Refused


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"{}", False),
        (b'{"a": [1, 2, {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}', False),  # brackets in strings
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b"[]" * 100_000, False),  # wide is fine
        (b'{"a":' * 40 + b"1" + b"}" * 40, True),
        (b"[" * 100_000, True),  # unbalanced and deep
        (b"{not json", False),  # unbalanced and shallow: the parser refuses it as bad JSON
        (b'["\\"]"]', False),  # an escaped quote does not end the string
    ],
)
def test_json_depth(body: bytes, deep: bool) -> None:
    assert too_deep(body) is deep


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("127.0.0.1", "a loopback address"),
        ("127.200.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
        ("2002:c0a8:0101::", "a private address"),  # 6to4 around 192.168.1.1
        ("64:ff9b::a9fe:a9fe", "a reserved address"),  # NAT64 around 169.254.169.254
        ("not an address", "not an IP address"),
    ],
)
def test_outbound_addresses(address: str, reason: str | None) -> None:
    assert Outbound().forbidden(address) == reason


def test_loopback_only_for_local_development() -> None:
    local = Outbound(allow_local=True)
    assert local.forbidden("127.0.0.1") is None and local.forbidden("::1") is None
    assert local.forbidden("10.0.0.1") == "a private address"  # still refused
    assert local.check_url("http://127.0.0.1:8080/hooks").port == 8080


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://hooks.example.test/", "must start with https://"),
        ("ftp://hooks.example.test/", "must start with https://"),
        ("https://user:pw@hooks.example.test/", "must not carry credentials"),
        ("https://:pw@hooks.example.test/", "must not carry credentials"),
        ("https://2130706433/", "unusual form"),
        ("https://0x7f000001/", "unusual form"),
        ("https://0177.0.0.1/", "unusual form"),
        ("https://127.1/", "unusual form"),
        ("https://127.0.0.1/", "a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "a private address"),
        ("https:///hooks", "has no host"),
        ("https://hooks.example.test:99999/", "is not a URL"),
        ("https://hooks.example.test/a b", "spaces or control characters"),
        ("https://" + "a" * 2_000 + ".test/", "at most 2000 characters"),
    ],
)
def test_urls_refused_before_any_lookup(url: str, refusal: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Outbound().check_url(url)
    assert refusal in refused.value.problems[0].message


def test_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    outbound = Outbound(resolver=lambda host, port: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(Refused, match=r"resolves to 10\.0\.0\.7, a private address"):
        outbound.resolve("hooks.example.test", 443)
    assert Outbound(resolver=lambda host, port: ["93.184.215.14"]).resolve("hooks.example.test", 443) == [
        "93.184.215.14"
    ]
    with pytest.raises(Refused, match="does not resolve"):
        Outbound(resolver=lambda host, port: []).resolve("hooks.example.test", 443)


def test_a_bucket_refuses_past_its_burst_and_refills_with_time() -> None:
    buckets = Buckets(RateLimit(2, 0.4), "attempts")
    buckets.take("a")
    buckets.take("a")
    with pytest.raises(RateLimited) as refused:
        buckets.take("a")
    assert refused.value.retry_after >= 1 and "2 per 0.4 s" in refused.value.message
    buckets.take("b")  # another address has its own
    time.sleep(0.25)  # a token and more comes back
    buckets.check("a")
    buckets.take("a")
    Buckets(RateLimit(0, 1.0), "anything").take("a")  # 0: no limit


def test_buckets_forget_the_least_recent_address_past_their_bound() -> None:
    buckets = Buckets(RateLimit(1, 3_600), "attempts", max_addresses=2)
    for address in ("a", "b", "c"):
        buckets.take(address)
    buckets.take("a")  # forgotten, so a full bucket again
    with pytest.raises(RateLimited):
        buckets.take("c")


def test_secrets_shown_once_are_blanked_wherever_they_sit() -> None:
    kept = blank_secrets(b'{"party":{"id":"pty_1"},"api_key":"dk_x","items":[{"secret":"whsec_y","url":"u"}]}')
    assert kept == b'{"party":{"id":"pty_1"},"api_key":null,"items":[{"secret":null,"url":"u"}]}'
    assert blank_secrets(b'{"id":"pln_1"}') == b'{"id":"pln_1"}'  # untouched, byte for byte
    assert blank_secrets(b"not json") == b"not json"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("licence.pdf", "attachment; filename=\"licence.pdf\"; filename*=UTF-8''licence.pdf"),
        (
            "营业执照.pdf",
            "attachment; filename=\"____.pdf\"; filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf",
        ),
        ('a"; x=y.pdf', "attachment; filename=\"a__ x_y.pdf\"; filename*=UTF-8''a%22%3B%20x%3Dy.pdf"),
        ("", "attachment; filename=\"document\"; filename*=UTF-8''"),
    ],
)
def test_attachment_names(name: str, header: str) -> None:
    assert content_disposition(name) == header
