from pathlib import Path

import pytest

from analytics.config import Settings, TopicError, load_topic, load_topic_file

DOCS = Path(__file__).resolve().parents[1] / "docs" / "CONFIGURATION.md"


def test_every_setting_is_documented():
    text = DOCS.read_text()
    missing = [name for name in Settings.model_fields if f"`ANALYTICS_{name.upper()}`" not in text]
    assert not missing, f"settings missing from docs/CONFIGURATION.md: {missing}"


def test_every_setting_has_help_text():
    assert all(field.description for field in Settings.model_fields.values())


def test_default_database_is_sqlite_under_data(monkeypatch):
    monkeypatch.delenv("ANALYTICS_DATABASE_URL", raising=False)
    assert Settings().database_url.startswith("sqlite:///")
    assert "/data/" in Settings().database_url


def test_env_overrides_and_secrets_are_hidden(monkeypatch):
    monkeypatch.setenv("ANALYTICS_OPENAI_API_KEY", "sk-test-123")
    monkeypatch.setenv("ANALYTICS_SCORING_BACKEND", "openai")
    settings = Settings()
    assert settings.scoring_backend == "openai"
    assert settings.openai_api_key.get_secret_value() == "sk-test-123"
    assert "sk-test-123" not in str(settings.public_dict())


def test_secrets_toml_is_read(tmp_path, monkeypatch):
    from analytics import config

    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[analytics]\nopenai_api_key = "sk-from-toml"\n')
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    monkeypatch.delenv("ANALYTICS_OPENAI_API_KEY", raising=False)
    source = config.StreamlitSecretsSource(Settings, secrets)
    assert source()["openai_api_key"] == "sk-from-toml"


def test_nato_topic_has_three_scores():
    topic = load_topic("nato")
    assert topic.score_keys == ["sentiment", "unity", "article5_trust"]
    for score in topic.scores:
        assert score.minimum == 0 and score.maximum == 10 and score.question


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
