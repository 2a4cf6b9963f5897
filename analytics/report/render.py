"""Rendering a gathered report: HTML (plotly inlined, works offline), PDF (kaleido batch +
WeasyPrint), CSV (zip) and Excel. Untrusted text is escaped by Jinja2 autoescaping in
HTML/PDF and neutralised as spreadsheet formulas in CSV/Excel."""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from analytics.core.errors import BadInput
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.report.build import ReportData, build_report

FORMATS = ("html", "pdf", "csv", "xlsx")


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("analytics.report", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def render_template(name: str, **context) -> str:
    """Any of the report templates, with the same autoescaping (untrusted text stays text)."""
    return _environment().get_template(name).render(**context)


def render_html(data: ReportData) -> str:
    """One self-contained file: plotly.js inlined, interactive charts, no network needed."""
    from plotly.offline import get_plotlyjs

    charts = {name: fig.to_html(full_html=False, include_plotlyjs=False,
                                config={"displaylogo": False, "responsive": True})
              for name, fig in data.figures.items()}
    return _environment().get_template("report.html.j2").render(
        data=data, charts=charts, plotly_js=get_plotlyjs(), static=False,
        tables=_tables(data))


def render_pdf(data: ReportData) -> bytes:
    """Static charts rendered by kaleido in one batch, laid out by WeasyPrint."""
    from weasyprint import HTML

    images = static_images(data.figures)
    html = _environment().get_template("report.html.j2").render(
        data=data, charts=images, plotly_js="", static=True, tables=_tables(data))
    return HTML(string=html).write_pdf()


def static_images(figures: dict[str, go.Figure]) -> dict[str, str]:
    """PNG data URIs for every figure, from ONE kaleido browser session (not one per chart)."""
    import tempfile

    import kaleido

    if not figures:
        return {}
    with tempfile.TemporaryDirectory() as folder:
        specs = [{"fig": fig, "path": str(Path(folder) / f"{name}.png"),
                  "opts": {"format": "png", "width": 1000, "height": fig.layout.height or 420,
                           "scale": 1.5}}
                 for name, fig in figures.items()]
        kaleido.write_fig_from_object_sync(specs)
        return {name: "data:image/png;base64," + base64.b64encode(
            (Path(folder) / f"{name}.png").read_bytes()).decode() for name in figures}


def _tables(data: ReportData) -> dict[str, list[dict]]:
    return {
        "coverage": data.coverage.tail(60).to_dict("records"),
        "trend": data.trend_table.to_dict("records"),
        "summaries": data.summaries.to_dict("records"),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """Spreadsheet apps execute cells that start with = + - @: prefix them with a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    return out


def render_csv(data: ReportData) -> bytes:
    """A zip of CSV files: documents with scores, trend table, coverage, summaries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, frame in _csv_frames(data).items():
            archive.writestr(f"{name}.csv", safe_frame(frame).to_csv(index=False))
    return buffer.getvalue()


def render_xlsx(data: ReportData) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        for name, frame in _csv_frames(data).items():
            frame = safe_frame(frame)
            for column in frame.select_dtypes(include=["datetimetz"]).columns:
                frame[column] = frame[column].dt.tz_localize(None)
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


def _csv_frames(data: ReportData) -> dict[str, pd.DataFrame]:
    return {"documents": data.documents, "trends": data.trend_table, "coverage": data.coverage,
            "summaries": data.summaries}


RENDERERS = {"html": lambda d: render_html(d).encode("utf-8"), "pdf": render_pdf,
             "csv": render_csv, "xlsx": render_xlsx}
EXTENSIONS = {"html": ".html", "pdf": ".pdf", "csv": ".zip", "xlsx": ".xlsx"}


def render(data: ReportData, fmt: str) -> bytes:
    if fmt not in RENDERERS:
        raise BadInput(f"Unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")
    return RENDERERS[fmt](data)


def write_report(data: ReportData, fmt: str, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(render(data, fmt))
    temporary.replace(path)
    return path


def default_report_path(settings: Settings, topic: str, window: str, fmt: str,
                        moment: dt.datetime | None = None) -> Path:
    moment = moment or dt.datetime.now(dt.UTC)
    name = f"{topic}-{window}-{moment:%Y%m%dT%H%M%SZ}{EXTENSIONS[fmt]}"
    return Path(settings.reports.dir) / name


def prune_reports(settings: Settings, topic: str) -> list[Path]:
    """Keep the newest ``reports_keep`` files per topic; return what was removed."""
    folder = Path(settings.reports.dir)
    files = sorted(folder.glob(f"{topic}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = files[settings.reports.keep:]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def scheduled_report(topic: Topic, settings: Settings) -> Path:
    """What the scheduled run calls after refreshing fits: one HTML report, old ones pruned."""
    data = build_report(topic, settings.reports.window, settings=settings)
    path = write_report(data, "html", default_report_path(settings, topic.name,
                                                          settings.reports.window, "html"))
    prune_reports(settings, topic.name)
    return path
