"""Trend reports for people who never open the dashboard: ``build`` gathers what the stages
stored (never samples or trains), ``render`` writes HTML, PDF, CSV (zip) or Excel."""

from analytics.report.build import ReportData, build_report, coverage_table
from analytics.report.headlines import Headline, headline
from analytics.report.render import (
    FORMATS,
    default_report_path,
    neutralise_cell,
    prune_reports,
    render,
    render_csv,
    render_html,
    render_pdf,
    render_xlsx,
    safe_frame,
    scheduled_report,
    write_report,
)

__all__ = [
    "FORMATS",
    "Headline",
    "ReportData",
    "build_report",
    "coverage_table",
    "default_report_path",
    "headline",
    "neutralise_cell",
    "prune_reports",
    "render",
    "render_csv",
    "render_html",
    "render_pdf",
    "render_xlsx",
    "safe_frame",
    "scheduled_report",
    "write_report",
]
