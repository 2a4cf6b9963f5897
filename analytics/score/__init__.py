"""Scoring: retrieval, backends (offline, openai), validation schema and the pipeline."""
