"""Settings: the one place where configuration is declared (pydantic-settings).

General settings are fields of ``Settings``; each stage's settings are a section model
(``analytics.core.sections``) nested in it, e.g. ``settings.trends.draws``. Values come from
environment variables ``ANALYTICS_<NAME>``, a ``.env`` file, or ``.streamlit/secrets.toml``
(top level or an ``[analytics]`` table), in that priority. Variable names are flat
(``ANALYTICS_TREND_DRAWS``); ``flat_settings()`` lists them all, ``docs/CONFIGURATION.md``
documents them all, and a test fails when one is missing there.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from analytics.core.sections import (
    PROJECT_ROOT,
    SECTIONS,
    AlertSettings,
    DashboardSettings,
    DynamicsSettings,
    IngestSettings,
    LLMSettings,
    PipelineSettings,
    ReportSettings,
    ScoreSettings,
    Section,
    SummarizeSettings,
    TrendSettings,
    ValidationSettings,
)

ENV_PREFIX = "ANALYTICS_"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"


@dataclass(frozen=True)
class FlatSetting:
    """One configurable value: its variable name and where it lives in ``Settings``."""

    env: str  # e.g. ANALYTICS_TREND_DRAWS
    section: str | None  # None = a general setting
    name: str
    field: FieldInfo

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def flat_settings() -> list[FlatSetting]:
    """Every setting with its environment variable, general ones first."""
    found = [FlatSetting(f"{ENV_PREFIX}{name.upper()}", None, name, field)
             for name, field in Settings.model_fields.items() if name not in SECTIONS]
    for section, model in SECTIONS.items():
        for flat, name in model.env_names().items():
            found.append(FlatSetting(f"{ENV_PREFIX}{flat.upper()}", section, name,
                                     model.model_fields[name]))
    return found


def settings_markdown() -> str:
    """The table of every setting for docs/CONFIGURATION.md (variable, type, default, help),
    one block per section."""
    def show(value: Any) -> str:
        if value is None:
            return "—"
        text = str(value).replace(str(PROJECT_ROOT), "<project>")
        return f"`{text}`" if len(text) < 60 else "see help"

    blocks: dict[str | None, list[str]] = {}
    for setting in flat_settings():
        field = setting.field
        kind = getattr(field.annotation, "__name__", None) or str(field.annotation)
        kind = kind.replace("typing.", "").replace("pydantic.types.", "").replace("|", "\\|")
        default = field.get_default(call_default_factory=True)
        blocks.setdefault(setting.section, []).append(
            f"| `{setting.env}` | {kind} | {show(default)} | {field.description} |")
    out = []
    for section, rows in blocks.items():
        title = "General" if section is None else (SECTIONS[section].__doc__ or section).strip()
        out += [f"### {title}", "", "| Variable | Type | Default | What it does |",
                "|---|---|---|---|", *rows, ""]
    return "\n".join(out)


def _is_complex(field: FieldInfo) -> bool:
    """Whether the setting is a list/dict (JSON in the environment)."""
    annotation = field.annotation
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    return any((get_origin(a) or a) in (list, dict, tuple, set) for a in options or (annotation,))


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat names (lower case, no prefix) -> the nested dict ``Settings`` validates.

    Strings for list/dict settings are JSON, as in the environment."""
    out: dict[str, Any] = {}
    for setting in flat_settings():
        key = setting.env.removeprefix(ENV_PREFIX).lower()
        if key not in flat:
            continue
        value = flat[key]
        if isinstance(value, str) and _is_complex(setting.field):
            with contextlib.suppress(ValueError):  # pydantic then names the bad setting
                value = json.loads(value)
        target = out.setdefault(setting.section, {}) if setting.section else out
        target[setting.name] = value
    return out


class FlatSource(PydanticBaseSettingsSource):
    """Settings from a flat mapping of names (environment, .env, secrets.toml)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]):
        super().__init__(settings_cls)
        self.values = nest(values)

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values


def environment_values(environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k[len(ENV_PREFIX):].lower(): v for k, v in environ.items()
            if k.upper().startswith(ENV_PREFIX)}


def dotenv_values(path: Path = Path(".env")) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values as read

    return environment_values({k: v for k, v in read(path).items() if v is not None})


def secrets_values(path: Path | None = None) -> dict[str, Any]:
    """``.streamlit/secrets.toml`` read without importing streamlit."""
    path = path or SECRETS_FILE
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    flat = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    flat.update(raw.get("analytics", {}))
    return {k.lower().removeprefix("analytics_"): v for k, v in flat.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'data' / 'analytics.db'}",
        description="SQLAlchemy database URL. Default: one SQLite file (WAL mode) under "
        "data/. Use postgresql+psycopg://user:pass@host/db for teams and several workers.")
    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Folder for caches (model fits, embeddings) and other local state.")
    topic: str = Field(default="nato", description="Default topic: the name of a YAML file in "
                       "the topics folder.")
    topics_dir: Path = Field(
        default=PROJECT_ROOT / "analytics" / "topics",
        description="Folder holding topic YAML files (queries, score definitions, rubrics).")
    demo_seed: int = Field(default=42, description="RNG seed of the synthetic demo corpus.")
    demo_documents: int = Field(
        default=3000, ge=1,
        description="Number of documents the demo generator writes (news, YouTube, Reddit).")
    demo_autostart: bool = Field(
        default=True,
        description="When the dashboard opens on a database with no documents at all, "
        "generate, score and model the demo corpus in the background, with progress on the "
        "page (set false for a team database that will be filled by ingestion).")

    run_heartbeat_s: float = Field(
        default=10.0, gt=0,
        description="A running run (ingest, score, worker, fit...) writes its heartbeat this "
        "often (seconds).")
    run_dead_after_s: float = Field(
        default=90.0, gt=0,
        description="A running run whose heartbeat is older than this (seconds) is taken for "
        "dead (kill -9, a lost machine): it is marked 'stopped' and its claimed documents are "
        "released to other workers. Keep it several heartbeats long.")

    ingest: IngestSettings = Field(default_factory=IngestSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    score: ScoreSettings = Field(default_factory=ScoreSettings)
    summarize: SummarizeSettings = Field(default_factory=SummarizeSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    trends: TrendSettings = Field(default_factory=TrendSettings)
    dynamics: DynamicsSettings = Field(default_factory=DynamicsSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, FlatSource(settings_cls, environment_values()),
                FlatSource(settings_cls, dotenv_values()),
                FlatSource(settings_cls, secrets_values()))

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to record in run parameters and exports (secrets removed)."""
        def clean(model: Any) -> dict[str, Any]:
            out = {}
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretStr) or _secret_name(name):
                    continue
                if isinstance(value, Section):
                    out[name] = clean(value)
                else:
                    out[name] = str(value) if isinstance(value, Path) else value
            return out
        return clean(self)

    @classmethod
    def from_flat(cls, **values: Any) -> Settings:
        """Settings from flat names, e.g. ``from_flat(openai_model="m", trend_draws=200)``;
        the environment fills in the rest."""
        return cls(**nest(values))

    def with_flat(self, **values: Any) -> Settings:
        """A copy with some values replaced, given by their flat names (not re-validated)."""
        nested = nest(values)
        unknown = set(values) - {s.env.removeprefix(ENV_PREFIX).lower() for s in flat_settings()}
        if unknown:
            raise KeyError(f"unknown setting(s): {sorted(unknown)}")
        update = {name: value for name, value in nested.items() if name not in SECTIONS}
        for section in set(nested) & set(SECTIONS):
            update[section] = getattr(self, section).model_copy(update=nested[section])
        return self.model_copy(update=update)


def _secret_name(name: str) -> bool:
    return any(part in name for part in ("key", "secret", "password", "token_value"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
