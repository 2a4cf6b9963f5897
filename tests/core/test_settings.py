"""Settings: every setting typed, documented and overridable by its flat variable name;
secrets hidden; topics validated with messages that name the file, line and field."""

import re

import pytest

from analytics.core.settings import Settings, flat_settings, secrets_values
from analytics.core.topics import TopicError, load_topic, load_topic_file
from tests.support.paths import ROOT

DOCS = ROOT / "docs" / "CONFIGURATION.md"


def test_every_setting_is_documented():
    text = DOCS.read_text()
    missing = [s.env for s in flat_settings() if f"`{s.env}`" not in text]
    assert not missing, f"settings missing from docs/CONFIGURATION.md: {missing}"
    known = {s.env for s in flat_settings()}
    stale = set(re.findall(r"`(ANALYTICS_[A-Z0-9_]+)`", text)) - known
    assert not stale, f"docs/CONFIGURATION.md lists settings that no longer exist: {stale}"


def test_every_setting_has_help_text_and_one_variable():
    settings = flat_settings()
    assert all(s.field.description for s in settings)
    names = [s.env for s in settings]
    assert len(names) == len(set(names)) > 80


def test_default_database_is_sqlite_under_data(monkeypatch):
    monkeypatch.delenv("ANALYTICS_DATABASE_URL", raising=False)
    assert Settings().database_url.startswith("sqlite:///")
    assert "/data/" in Settings().database_url


def test_flat_names_reach_their_section(monkeypatch):
    monkeypatch.setenv("ANALYTICS_TREND_DRAWS", "123")
    monkeypatch.setenv("ANALYTICS_SCORING_BACKEND", "openai")
    monkeypatch.setenv("ANALYTICS_NEWS_PROVIDERS", '["rss"]')
    monkeypatch.setenv("ANALYTICS_INGEST_BATCH_SIZE", "7")
    settings = Settings()
    assert settings.trends.draws == 123 and settings.score.backend == "openai"
    assert settings.ingest.news_providers == ["rss"] and settings.ingest.batch_size == 7
    assert Settings.from_flat(openai_model="m").llm.model == "m"
    assert settings.with_flat(dynamics_iterations=5).dynamics.iterations == 5
    with pytest.raises(KeyError):
        settings.with_flat(no_such_setting=1)


def test_bad_values_are_refused_with_the_setting_named(monkeypatch):
    monkeypatch.setenv("ANALYTICS_TREND_DRAWS", "3")
    with pytest.raises(ValueError, match="draws"):
        Settings()


def test_env_overrides_and_secrets_are_hidden(monkeypatch):
    monkeypatch.setenv("ANALYTICS_OPENAI_API_KEY", "sk-test-123")
    settings = Settings()
    assert settings.llm.api_key.get_secret_value() == "sk-test-123"
    assert "sk-test-123" not in str(settings.public_dict())


def test_secrets_toml_is_read(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[analytics]\nopenai_api_key = "sk-from-toml"\n')
    assert secrets_values(secrets)["openai_api_key"] == "sk-from-toml"


def test_nato_topic_has_three_scores():
    topic = load_topic("nato")
    assert topic.score_keys == ["sentiment", "unity", "article5_trust"]
    for score in topic.scores:
        assert score.minimum == 0 and score.maximum == 10 and score.question
    assert topic.score("unity").scale == "0 = deeply divided … 10 = fully united"


def test_invalid_yaml_names_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nscores: [\n")
    with pytest.raises(TopicError, match="not valid YAML at line"):
        load_topic_file(bad)


def test_malformed_topic_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ntitle: X\ntarget: X\nkeywords: [x]\n"
        "scores:\n  - key: s\n    label: S\n    question: Q?\n    low: l\n"
    )
    with pytest.raises(TopicError, match=r"field 'scores\.0\.high'"):
        load_topic_file(bad)


def test_topic_names_cannot_reach_other_files():
    with pytest.raises(TopicError, match="not a topic name"):
        load_topic("../secrets")
