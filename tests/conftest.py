"""Shared fixtures. Every test gets its own database unless it asks for the demo one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analytics.config import get_settings, load_topic, reset_settings_cache

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _point_settings_at(database_url: str, data_dir: Path) -> None:
    os.environ["ANALYTICS_DATABASE_URL"] = database_url
    os.environ["ANALYTICS_DATA_DIR"] = str(data_dir)
    reset_settings_cache()


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with an empty database and data folder of this test's own."""
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.setenv("ANALYTICS_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    yield get_settings()
    reset_settings_cache()


@pytest.fixture
def topic():
    return load_topic("nato")


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory) -> str:
    """URL of the full default demo corpus, generated and scored once per test session."""
    from analytics.demo_setup import seed_demo

    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    saved = {k: os.environ.get(k) for k in ("ANALYTICS_DATABASE_URL", "ANALYTICS_DATA_DIR")}
    _point_settings_at(url, folder / "data")
    try:
        seed_demo(load_topic("nato"), get_settings())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings_cache()
    return url


@pytest.fixture
def demo_settings(demo_database, tmp_path, monkeypatch):
    """Settings pointing at the shared scored demo database (read it, do not change it)."""
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", demo_database)
    monkeypatch.setenv("ANALYTICS_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    yield get_settings()
    reset_settings_cache()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA
