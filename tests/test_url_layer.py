"""URL normalisation and URL shares."""

from __future__ import annotations

import pandas as pd
import pytest

from graphs.url_layer import normalized_url, url_shares, urls_in_text


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.example.org/a/", "example.org/a"),
    ("http://example.org/a", "example.org/a"),
    ("HTTPS://WWW.EXAMPLE.ORG/a?utm_source=x&utm_medium=y&fbclid=1&gclid=2", "example.org/a"),
    ("https://example.org/a?b=2&a=1&utm_campaign=z#frag", "example.org/a?a=1&b=2"),
    ("example.org:8080/x/", "example.org:8080/x"),
    ("https://t.co/AbC", "t.co/AbC"),  # redirects are left alone, path case kept
])
def test_normalized_url(url, expected):
    assert normalized_url(url) == expected


def test_urls_in_text():
    assert urls_in_text("a https://x.org/p?q=1). b http://y.org") == ["https://x.org/p?q=1",
                                                                      "http://y.org"]
    assert urls_in_text("") == []


def test_url_shares_drops_hostless_rows():
    t = pd.Timestamp("2026-11-01", tz="UTC")
    shares = url_shares(pd.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [t] * 3,
                                      "url": ["https://www.x.org/?utm_source=1", "x.org", "/"]}))
    assert shares["target_id"].tolist() == ["url:x.org", "url:x.org"]
    assert shares["account_id"].tolist() == ["a", "b"]


def test_url_shares_missing_column():
    with pytest.raises(ValueError, match="url table: missing column 'url'"):
        url_shares(pd.DataFrame({"account_id": ["a"], "timestamp": [1]}))


def test_url_shares_normalises_each_distinct_link_once(monkeypatch):
    import graphs.url_layer as url_layer

    calls = []
    real = url_layer.normalized_url
    monkeypatch.setattr(url_layer, "normalized_url", lambda u: calls.append(u) or real(u))
    t = pd.Timestamp("2026-11-01", tz="UTC")
    urls = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "timestamp": [t] * 4,
                         "url": ["http://x.org/p", "/", "https://y.org", "http://x.org/p"]},
                        index=[10, 3, 7, 1])  # rows keep their own link under any index
    shares = url_layer.url_shares(urls)
    assert sorted(calls) == ["/", "http://x.org/p", "https://y.org"]
    assert shares["account_id"].tolist() == ["a", "c", "d"]
    assert shares["target_id"].tolist() == ["url:x.org/p", "url:y.org", "url:x.org/p"]
