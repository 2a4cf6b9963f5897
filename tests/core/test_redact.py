"""Redaction: secrets never reach what is stored or printed."""

from analytics.core.redact import MASK, redact, redact_data


def test_known_secret_shapes_are_masked():
    cases = {
        "https://user:pw123@host/x": f"https://{MASK}@host/x",
        "GET /v3/search?part=id&key=AIzaSyA-1234567890abcdefghij&q=x": "key=***",
        "Authorization: Bearer abcdefghijkl123": "Bearer ***",
        "Incorrect API key provided: sk-proj-abcdef123456": "provided: ***",
        "api_key=topsecretvalue rest": "api_key=***",
    }
    for text, expected in cases.items():
        assert expected in redact(text), text


def test_configured_values_and_nested_data_are_masked():
    data = {"error": ["failed with planted-value-42"], "n": 3}
    assert redact_data(data, ["planted-value-42"]) == {"error": [f"failed with {MASK}"], "n": 3}
    assert redact(None) is None and redact("page token=abc") == "page token=abc"
