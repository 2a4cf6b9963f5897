"""Settings and topic loading: the one place where configuration is declared.

Every setting has a type, a default and help text (the Field description). They are read
from environment variables prefixed ``ANALYTICS_``, a ``.env`` file, or
``.streamlit/secrets.toml`` (top level or an ``[analytics]`` table), in that priority.
``docs/CONFIGURATION.md`` lists them all; a test fails when one is undocumented.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"


class StreamlitSecretsSource(PydanticBaseSettingsSource):
    """Reads settings from ``.streamlit/secrets.toml`` without importing streamlit."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path = SECRETS_FILE):
        super().__init__(settings_cls)
        self.values = self._read(path)

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        if not path.is_file():
            return {}
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
        flat = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        flat.update(raw.get("analytics", {}))
        return {k.lower().removeprefix("analytics_"): v for k, v in flat.items()}

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANALYTICS_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- storage ---------------------------------------------------------------------
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'data' / 'analytics.db'}",
        description="SQLAlchemy database URL. Default: one SQLite file (WAL mode) under "
        "data/. Use postgresql+psycopg://user:pass@host/db for teams and several workers.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Folder for caches (model fits, embeddings) and other local state.",
    )

    # --- topic -----------------------------------------------------------------------
    topic: str = Field(
        default="nato",
        description="Default topic: the name of a YAML file in the topics folder.",
    )
    topics_dir: Path = Field(
        default=PROJECT_ROOT / "analytics" / "topics",
        description="Folder holding topic YAML files (queries, score definitions, rubrics).",
    )

    # --- demo corpus -----------------------------------------------------------------
    demo_seed: int = Field(default=42, description="RNG seed of the synthetic demo corpus.")
    demo_documents: int = Field(
        default=3000,
        description="Number of documents the demo generator writes (news, YouTube, Reddit).",
    )

    # --- scoring ---------------------------------------------------------------------
    scoring_backend: Literal["offline", "openai"] = Field(
        default="offline",
        description="Scoring backend: 'offline' (embeddings + lexicon, no network, the "
        "default) or 'openai' (any OpenAI-compatible chat completions endpoint).",
    )
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Sentence embedding model used for retrieval (packaged offline MiniLM).",
    )
    chunk_size: int = Field(
        default=600, description="Target chunk length in characters when splitting texts."
    )
    chunk_overlap: int = Field(default=80, description="Characters shared by adjacent chunks.")
    retrieval_top_k: int = Field(
        default=4, description="Passages retrieved per score question for each document."
    )
    max_comments_per_document: int = Field(
        default=60,
        description="At most this many comments (highest-liked first) are scored with a document.",
    )

    # --- secrets (never stored in the database, logs or exports) ----------------------
    openai_api_key: SecretStr | None = Field(
        default=None, description="API key for the OpenAI-compatible scoring endpoint."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            StreamlitSecretsSource(settings_cls),
            file_secret_settings,
        )

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to record in run parameters and exports (secrets removed)."""
        return {
            name: (str(value) if isinstance(value, Path) else value)
            for name, value in self.model_dump().items()
            if not isinstance(getattr(self, name), SecretStr) and "key" not in name
            and "secret" not in name and "password" not in name
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()


# --- topics ----------------------------------------------------------------------------

import datetime as _dt  # noqa: E402

import yaml  # noqa: E402
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator  # noqa: E402


class TopicError(ValueError):
    """A topic file that cannot be used; the message names the file and the field."""


class ScoreDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    question: str
    low: str = Field(description="What a 0 means.")
    high: str = Field(description="What a 10 means.")
    neutral: str = "5 = neutral, balanced or mixed."
    minimum: float = 0.0
    maximum: float = 10.0
    anchors_low: list[str] = Field(default_factory=list)
    anchors_high: list[str] = Field(default_factory=list)


class SourceQueries(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    queries: list[str] = Field(default_factory=list)
    feeds: list[str] = Field(default_factory=list)
    subreddits: list[str] = Field(default_factory=list)


class TopicEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: _dt.date
    label: str


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = ""
    target: str = Field(description="The entity opinions are about, e.g. 'NATO'.")
    keywords: list[str] = Field(min_length=1)
    sources: dict[str, SourceQueries] = Field(default_factory=dict)
    scores: list[ScoreDefinition] = Field(min_length=1)
    events: list[TopicEvent] = Field(default_factory=list)

    @field_validator("scores")
    @classmethod
    def _unique_score_keys(cls, scores: list[ScoreDefinition]) -> list[ScoreDefinition]:
        keys = [s.key for s in scores]
        if len(keys) != len(set(keys)):
            raise ValueError(f"score keys must be unique, got {keys}")
        return scores

    @property
    def score_keys(self) -> list[str]:
        return [s.key for s in self.scores]

    def score(self, key: str) -> ScoreDefinition:
        for definition in self.scores:
            if definition.key == key:
                return definition
        raise KeyError(key)


def _describe_validation_error(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    extra = f" ({len(error.errors()) - 1} more problem(s))" if len(error.errors()) > 1 else ""
    return f"Topic file {path.name}: field '{field}': {first['msg']}{extra}"


def load_topic_file(path: Path) -> Topic:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TopicError(f"Topic file {path} does not exist.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TopicError(f"Topic file {path.name} is not valid YAML{where}.") from exc
    if not isinstance(raw, dict):
        raise TopicError(f"Topic file {path.name}: expected a mapping at the top level.")
    try:
        return Topic.model_validate(raw)
    except ValidationError as exc:
        raise TopicError(_describe_validation_error(path, exc)) from exc


def available_topics(settings: Settings | None = None) -> list[str]:
    settings = settings or get_settings()
    return sorted(p.stem for p in Path(settings.topics_dir).glob("*.yaml"))


def load_topic(name: str | None = None, settings: Settings | None = None) -> Topic:
    settings = settings or get_settings()
    name = name or settings.topic
    return load_topic_file(Path(settings.topics_dir) / f"{name}.yaml")
