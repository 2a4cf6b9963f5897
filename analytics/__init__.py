"""Opinion analytics: ingest, score, summarize and model how media talk about a topic."""

__version__ = "0.1.0"
