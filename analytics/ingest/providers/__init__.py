"""Providers: one module each, registered in analytics.ingest.base.PROVIDERS."""
