"""Canonical URLs for news: one article, one key, whatever tracking or spelling it came with."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the article.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "ocid",
    "cmpid", "cmp", "ref", "ref_src", "referrer", "src", "smid", "sr_share", "share",
    "at_medium", "at_campaign", "ito", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
    "ns_fee", "outputtype", "rss", "mbid", "guccounter", "_ga", "spm",
})
HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.")
MAX_KEY_LENGTH = 255


def canonical_url(url: str) -> str:
    """https, lower-case host without www./m./amp., no default port, no fragment, no
    tracking parameters (utm_* and the like), remaining parameters sorted, no trailing
    slash or index page."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    for prefix in HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") > 1:
            host = host[len(prefix):]
            break
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    for suffix in ("/index.html", "/index.htm", "/index.php", "/amp", "/amp/"):
        if path.endswith(suffix) and len(path) > len(suffix):
            path = path[: -len(suffix)]
    path = path.rstrip("/") or "/"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    )
    return urlunsplit(("https", host, path, urlencode(query), ""))


def url_key(url: str) -> str:
    """The external id of a news article: its canonical URL, or a hash when too long."""
    canonical = canonical_url(url)
    if len(canonical) <= MAX_KEY_LENGTH:
        return canonical
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
