"""Providers that fetch documents for a topic, and the runner that stores them."""

from analytics.ingest.base import PROVIDERS, Option, Provider, provider_class

__all__ = ["PROVIDERS", "Option", "Provider", "provider_class"]
