"""Shared fixtures. Every test gets its own database and data folder unless it asks for a
scored corpus, which is built once per session per (size, seed) and copied per test.

The store is SQLite by default; ``ANALYTICS_TEST_DATABASE=postgresql`` with
``ANALYTICS_TEST_POSTGRES_URL`` runs the same tests against a real PostgreSQL server (each
test its own database: ``tests/support/databases.py``).

``ANALYTICS_TEST_SEED`` shifts the seeds of the statistical tests (CI runs them twice with
different seeds, so an assertion that holds only for one seed fails there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics.core.settings import Settings, get_settings, reset_settings_cache
from analytics.core.topics import load_topic
from tests.support import databases
from tests.support.paths import SHARED_DATA

UI_CORPUS_SIZE = 300  # renders every page; the full demo is for recovery tests only
TEST_SEED = int(os.environ.get("ANALYTICS_TEST_SEED", "0"))


def point_settings(monkeypatch: pytest.MonkeyPatch, database: Path | str, data_dir: Path,
                   **env: str) -> Settings:
    """Settings for this test: its database (a path naming it, or a URL), data folder, and
    any ANALYTICS_* overrides."""
    url = database if isinstance(database, str) else databases.database_url(database)
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", url)
    monkeypatch.setenv("ANALYTICS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ANALYTICS_DEMO_AUTOSTART", "false")
    monkeypatch.setenv("ANALYTICS_TREND_WARM_UP", "false")
    for name, value in env.items():
        monkeypatch.setenv(f"ANALYTICS_{name.upper()}", str(value))
    reset_settings_cache()
    return get_settings()


def pytest_report_header(config):
    return f"store: {databases.describe()}"


@pytest.fixture(scope="session", autouse=True)
def _session_databases():
    yield
    databases.end_session()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Settings and Streamlit's in-process caches never leak from one test's database
    into the next; a PostgreSQL test's databases are dropped after it."""
    reset_settings_cache()
    _clear_streamlit_caches()
    yield
    reset_settings_cache()
    _clear_streamlit_caches()
    databases.end_test()


def _clear_streamlit_caches() -> None:
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings with an empty database and data folder of this test's own."""
    return point_settings(monkeypatch, tmp_path / "test.db", tmp_path / "data")


@pytest.fixture
def topic():
    return load_topic("nato")


@pytest.fixture
def fake_api():
    """A local HTTP server speaking whatever API the test routes on it (127.0.0.1)."""
    from tests.support.ingest_servers import FakeApi

    with FakeApi() as server:
        yield server


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory) -> Callable[[int, int], str]:
    """``build(size, seed)``: the URL of a database with the demo corpus of that size (and
    its truth), scored offline; built once per session, never written to by tests (clone
    it with ``databases.clone_database``)."""
    from analytics.pipeline.demo import generate_demo
    from analytics.score.pipeline import score_topic
    from analytics.store.engine import get_engine

    built: dict[tuple[int, int], str] = {}

    def build(size: int, seed: int = 42) -> str:
        if (size, seed) not in built:
            folder = tmp_path_factory.mktemp(f"corpus-{size}-{seed}")
            url = (databases.session_database(f"corpus_{size}_{seed}") if databases.POSTGRES
                   else f"sqlite:///{folder / 'corpus.db'}")
            with pytest.MonkeyPatch.context() as patch:
                settings = point_settings(patch, url, folder / "data",
                                          demo_documents=size, demo_seed=seed)
                topic = load_topic("nato")
                generate_demo(topic, settings)
                score_topic(topic, settings=settings)
                if not databases.POSTGRES:
                    with get_engine(settings.database_url).connect() as connection:
                        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            databases.release(url)
            reset_settings_cache()
            built[(size, seed)] = url
        return built[(size, seed)]

    return build


@pytest.fixture
def scored_corpus(corpus_files, tmp_path, monkeypatch) -> Callable[..., Settings]:
    """``scored_corpus(size, seed=42, **env)``: settings pointing at this test's own copy of
    a scored demo corpus (``**env``: more ANALYTICS_* overrides)."""
    def use(size: int, seed: int = 42, **env: str) -> Settings:
        url = databases.clone_database(corpus_files(size, seed), tmp_path / f"corpus-{size}.db")
        return point_settings(monkeypatch, url, tmp_path / "data",
                              demo_documents=size, demo_seed=seed, **env)

    return use


@pytest.fixture
def demo_settings(scored_corpus) -> Settings:
    """The full default demo corpus (3,000 documents): for tests that recover its truth."""
    return scored_corpus(Settings().demo_documents)


@pytest.fixture
def ui_settings(scored_corpus) -> Settings:
    """A small scored demo corpus that renders every page."""
    return scored_corpus(UI_CORPUS_SIZE)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA
