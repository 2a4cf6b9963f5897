"""A planted secret is nowhere: the API key (no recognisable prefix, so only the settings
know it is one), the password in the endpoint's URL user-info, an error body that echoes
the key, and (on PostgreSQL) the database password — after real CLI runs against the
local OpenAI-compatible stub, the database, the run rows, the logs and printed output, the
reports and every file under the data folder are searched for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from tests.support import databases
from tests.support.openai_stub import OpenAIStub
from tests.support.paths import ROOT

KEY = "PlantedKey7f3a9c1e55"
URL_PASSWORD = "PlantedUrlPw5511"
DB_PASSWORD = "PlantedDbPw9c1e77"


def _with_planted_password(url: str) -> str:
    """A login role whose password is planted (PostgreSQL); SQLite has no password."""
    if not url.startswith("postgresql"):
        return url
    databases._execute(  # the throw-away test cluster: a superuser role for this test
        "DROP ROLE IF EXISTS planted_user",
        f"CREATE ROLE planted_user LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'")
    return make_url(url).set(username="planted_user", password=DB_PASSWORD).render_as_string(
        hide_password=False)


def _database_text(url: str) -> str:
    """Every row of every table as text (and the raw SQLite file)."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        return "".join(p.read_bytes().decode("latin-1") for p in
                       (path, path.with_name(path.name + "-wal")) if p.exists())
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return "\n".join(
                str(row[0]) for table in inspect(connection).get_table_names()
                for row in connection.execute(text(f'SELECT t::text FROM "{table}" t')))
    finally:
        engine.dispose()


def _files_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


def test_planted_secrets_appear_nowhere(tmp_path, topic, settings):
    url = _with_planted_password(settings.database_url)
    ingest_records(DemoCorpus(topic, 6, seed=4).documents(), topic=topic.name,
                   provider="demo", database_url=url)
    data = tmp_path / "planted-data"
    with OpenAIStub(api_key=KEY) as stub:
        env = {**os.environ, "ANALYTICS_DATABASE_URL": url, "ANALYTICS_DATA_DIR": str(data),
               "ANALYTICS_REPORTS_DIR": str(data / "reports"),
               "ANALYTICS_SCORING_BACKEND": "openai", "ANALYTICS_OPENAI_API_KEY": KEY,
               "ANALYTICS_OPENAI_BASE_URL": stub.base_url,
               "ANALYTICS_OPENAI_MODEL": "stub-model",
               "ANALYTICS_OPENAI_EMBEDDING_MODEL": "stub-embed",
               "ANALYTICS_OPENAI_MAX_RETRIES": "0", "ANALYTICS_OPENAI_CONCURRENCY": "1",
               "ANALYTICS_DEMO_AUTOSTART": "false"}
        stub.state.script.extend([("echo_key", 400), ("echo_key", 400)])

        def cli(*args: str, **extra: str) -> str:
            done = subprocess.run([sys.executable, "-m", "analytics", *args], cwd=ROOT,
                                  env={**env, **extra}, capture_output=True, text=True,
                                  timeout=300)
            return f"$ {args}\n{done.stdout}\n{done.stderr}"

        printed = [
            cli("score"),
            cli("status"),
            cli("report", "--window", "all", "--format", "html",
                "--out", str(data / "reports" / "r.html")),
            cli("report", "--window", "all", "--format", "csv",
                "--out", str(data / "reports" / "r.zip")),
            # an unreachable endpoint named by a URL with user-info (a proxy's login): the
            # run fails loudly, and the URL is in its parameters and its error
            cli("score", "--retry-failed", ANALYTICS_OPENAI_BASE_URL=(
                f"http://planted:{URL_PASSWORD}@127.0.0.1:9/v1")),
            cli("status", ANALYTICS_OPENAI_BASE_URL=f"http://planted:{URL_PASSWORD}@x/v1"),
        ]
        sent = stub.state.chat_requests
    assert len(sent) >= 6, printed  # the key was really used
    output = "\n".join(printed)
    assert "***" in _database_text(url)  # the echoed key was stored, redacted
    assert "Cannot reach the endpoint" in output
    places = {"printed output and logs": output, "database": _database_text(url),
              "data folder and reports": _files_text(data)}
    for secret in (KEY, URL_PASSWORD, DB_PASSWORD):
        for where, content in places.items():
            assert secret not in content, f"{secret} found in {where}"
