"""Orchestration: the only place (with the CLI, the dashboard and reports) that combines
stages. Stage steps, the scheduled run and its lock, ingestion of every configured
source, and the demo preparation."""
