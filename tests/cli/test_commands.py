"""The CLI: every stage's commands are registered, bad input exits 2 with one message."""

from typer.testing import CliRunner

from analytics.cli import app

COMMANDS = ["demo", "scheduled-run", "cron", "status", "ingest", "score", "summarize",
            "trends", "report", "settings", "validate", "scenarios"]


def test_every_command_is_registered():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in COMMANDS)


def test_bad_input_is_one_message_and_exit_code_2(settings):
    runner = CliRunner()
    for args in (["status", "--topic", "no_such_topic"], ["ingest", "--source", "fax"],
                 ["report", "--format", "doc"], ["summarize", "--period", "decade"],
                 ["score", "--backend", "abacus"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Error:") and "Traceback" not in result.output


def test_status_names_the_database_without_its_password():
    from analytics.core.redact import redact

    assert redact("postgresql+psycopg://team:s3cret-pw@db.local/analytics") == \
        "postgresql+psycopg://***@db.local/analytics"


def test_settings_prints_every_variable():
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 0 and "`ANALYTICS_TREND_DRAWS`" in result.output
