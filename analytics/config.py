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

    # --- scoring: OpenAI-compatible endpoint (backend 'openai') ------------------------
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Base URL of the OpenAI-compatible API (OpenAI, Azure OpenAI, Ollama "
        "http://localhost:11434/v1, vLLM, llama.cpp server).",
    )
    openai_model: str = Field(
        default="gpt-4o-mini", description="Chat model used for level-1 scoring and level-2 "
        "summaries by the 'openai' backend.",
    )
    openai_embedding_model: str | None = Field(
        default=None,
        description="Embeddings model of the endpoint (/v1/embeddings) used for retrieval; "
        "empty = the packaged offline MiniLM.",
    )
    openai_temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="Sampling temperature (recorded per analysis)."
    )
    openai_seed: int | None = Field(
        default=7, description="Sampling seed sent to the endpoint (recorded per analysis)."
    )
    openai_max_tokens: int = Field(
        default=700, description="Most output tokens one scoring or summary call may produce."
    )
    openai_timeout_s: float = Field(
        default=60.0, description="Timeout of one API request in seconds (then retried)."
    )
    openai_max_retries: int = Field(
        default=4, description="Retries of one call after 429/5xx/timeouts, with exponential "
        "backoff that honours Retry-After.",
    )
    openai_concurrency: int = Field(
        default=8, ge=1, description="Scoring calls in flight at the same time."
    )
    openai_requests_per_minute: int = Field(
        default=500, ge=1, description="Client-side limit on requests per minute."
    )
    openai_tokens_per_minute: int = Field(
        default=200_000, ge=1,
        description="Client-side limit on tokens per minute (estimated prompt + max output).",
    )
    openai_prices: dict[str, tuple[float, float]] = Field(
        default={
            "gpt-4o-mini": (0.15, 0.60), "gpt-4.1-mini": (0.40, 1.60),
            "gpt-4.1-nano": (0.10, 0.40), "gpt-4o": (2.50, 10.00),
            "text-embedding-3-small": (0.02, 0.0),
        },
        description="Price table: model -> [USD per 1M input tokens, USD per 1M output "
        "tokens] (JSON in the environment). Unknown models cost 0 and cannot be budgeted.",
    )
    scoring_budget_usd: float | None = Field(
        default=None, ge=0.0,
        description="Cost cap of one scoring run in USD: the run stops cleanly before a "
        "call would exceed it. Empty = no cap.",
    )
    summary_context_tokens: int = Field(
        default=6000, ge=500,
        description="Context budget of one level-2 summary prompt; more level-1 summaries "
        "than fit are summarised map-reduce.",
    )

    # --- ingestion: shared HTTP layer -------------------------------------------------
    http_timeout_s: float = Field(
        default=20.0, description="Timeout in seconds for one HTTP request (connect and read)."
    )
    http_max_retries: int = Field(
        default=4,
        description="Retries of one request after a 5xx, a 429, a connection error or a "
        "truncated/invalid JSON body (other 4xx are never retried).",
    )
    http_backoff_base_s: float = Field(
        default=1.0, description="First wait of the exponential backoff between retries (s)."
    )
    http_backoff_max_s: float = Field(
        default=60.0, description="Longest wait of the exponential backoff between retries (s)."
    )
    http_retry_after_max_s: float = Field(
        default=300.0,
        description="Cap on a server's Retry-After wait (s); a longer wait is cut to this.",
    )
    http_user_agent: str = Field(
        default="opinion-analytics/0.1 (+https://example.org/opinion-analytics)",
        description="User-Agent sent with every request (Reddit requires a descriptive one).",
    )
    ingest_batch_size: int = Field(
        default=100, description="Documents written per transaction during an ingest run."
    )
    initial_lookback_days: int = Field(
        default=7,
        description="Window of a source's first scheduled run (later runs start where the "
        "last successful run of that source ended).",
    )
    news_providers: list[str] = Field(
        default=["gdelt", "google", "rss"],
        description="Providers the scheduled run uses for the topic's 'news' source (google "
        "is skipped without its key, rss without feeds).",
    )
    cron_schedule: str = Field(
        default="0 */6 * * *",
        description="Crontab schedule printed by `python -m analytics cron`.",
    )

    # --- ingestion: article pages -----------------------------------------------------
    article_fetch_workers: int = Field(
        default=4, description="Article pages fetched and extracted in parallel."
    )
    article_requests_per_second: float = Field(
        default=2.0, description="Request rate limit per news web site when fetching pages."
    )
    article_max_bytes: int = Field(
        default=5_000_000, description="Article pages larger than this are skipped (bytes)."
    )
    refetch_known_articles: bool = Field(
        default=False,
        description="Fetch and extract an article page again even when its canonical URL "
        "is already stored (off: known URLs are counted as unchanged without a request).",
    )
    near_duplicate_threshold: float = Field(
        default=0.8,
        description="Estimated Jaccard similarity of word shingles above which a news "
        "article is linked to an earlier one as a syndicated copy (duplicate_of).",
    )

    # --- ingestion: GDELT DOC 2.0 ------------------------------------------------------
    gdelt_base_url: str = Field(
        default="https://api.gdeltproject.org/api/v2/doc/doc",
        description="GDELT DOC 2.0 API endpoint.",
    )
    gdelt_requests_per_second: float = Field(
        default=0.2, description="Request rate limit for the GDELT API (it asks for 1 per 5 s)."
    )
    gdelt_slice_hours: float = Field(
        default=6.0,
        description="Length of one GDELT time slice; a slice that hits the record cap is "
        "split in halves so no article is silently dropped.",
    )
    gdelt_min_slice_minutes: float = Field(
        default=15.0, description="Shortest GDELT slice; a full one at this length is logged."
    )
    gdelt_max_records: int = Field(
        default=250, description="maxrecords per GDELT call (the API's cap is 250)."
    )

    # --- ingestion: Google Programmable Search -----------------------------------------
    google_base_url: str = Field(
        default="https://www.googleapis.com/customsearch/v1",
        description="Google Custom Search JSON API endpoint.",
    )
    google_engine_id: str | None = Field(
        default=None, description="Programmable Search Engine id (the `cx` parameter)."
    )
    google_requests_per_second: float = Field(
        default=1.0, description="Request rate limit for the Google Custom Search API."
    )
    google_max_results: int = Field(
        default=100, description="Results fetched per query (the API stops at 100)."
    )

    # --- ingestion: RSS/Atom -----------------------------------------------------------
    rss_requests_per_second: float = Field(
        default=1.0, description="Request rate limit when downloading RSS/Atom feeds."
    )

    # --- ingestion: YouTube Data API v3 ------------------------------------------------
    youtube_base_url: str = Field(
        default="https://www.googleapis.com/youtube/v3",
        description="YouTube Data API v3 base URL.",
    )
    youtube_daily_quota: int = Field(
        default=10_000,
        description="Quota units the product may spend per day (Pacific time, as Google "
        "counts); a run stops cleanly before exceeding it (search = 100, list = 1).",
    )
    youtube_requests_per_second: float = Field(
        default=5.0, description="Request rate limit for the YouTube Data API."
    )
    youtube_max_videos_per_query: int = Field(
        default=100, description="Videos collected per query and window (search pages of 50)."
    )
    youtube_max_comment_pages: int = Field(
        default=10, description="commentThreads pages (100 threads each) fetched per video."
    )

    # --- ingestion: Reddit -------------------------------------------------------------
    reddit_base_url: str = Field(
        default="https://oauth.reddit.com", description="Reddit OAuth API base URL."
    )
    reddit_auth_url: str = Field(
        default="https://www.reddit.com/api/v1/access_token",
        description="Reddit OAuth token endpoint (application-only client credentials).",
    )
    reddit_client_id: str | None = Field(
        default=None, description="Reddit app client id (reddit.com/prefs/apps, 'script' app)."
    )
    reddit_requests_per_second: float = Field(
        default=1.0, description="Request rate limit for Reddit (it allows 100 per minute)."
    )
    reddit_max_submissions_per_query: int = Field(
        default=100, description="Submissions collected per query (and subreddit) and window."
    )
    reddit_more_comments_limit: int = Field(
        default=10,
        description="'More comments' expansions (morechildren calls, 100 comments each) per "
        "submission; 0 keeps only the comments of the first page.",
    )

    # --- validation (human gold labels, bias-corrected trends) -------------------------
    validation_sampling: Literal["simple", "stratified"] = Field(
        default="stratified",
        description="How the validation sample is drawn: 'simple' random, or 'stratified' "
        "by source and month (proportional allocation); inclusion probabilities are stored.",
    )
    validation_sample_size: int = Field(
        default=300, ge=1, description="Documents drawn into a new validation sample."
    )
    validation_min_per_stratum: int = Field(
        default=2, ge=0,
        description="Stratified sampling: at least this many documents from every source x "
        "month stratum (small strata get a higher, still known, inclusion probability).",
    )
    validation_seed: int = Field(
        default=2024, description="RNG seed of the validation sample (recorded with it)."
    )

    # --- trends (Bayesian regression, analytics/trends.py) -----------------------------
    trend_sampler: Literal["nutpie", "pymc"] = Field(
        default="nutpie",
        description="NUTS implementation for trend fits: 'nutpie' (compiled once per model "
        "shape, fast) or 'pymc' (PyMC's own NUTS, the slower baseline).",
    )
    trend_likelihood: Literal["student_t", "normal"] = Field(
        default="student_t",
        description="Noise model of trend fits: 'student_t' (robust to outlying documents) "
        "or 'normal'.",
    )
    trend_draws: int = Field(default=1000, ge=50, description="Posterior draws per chain.")
    trend_tune: int = Field(default=1000, ge=50, description="Tuning steps per chain.")
    trend_chains: int = Field(default=4, ge=1, description="Number of sampler chains.")
    trend_per_source_slopes: bool = Field(
        default=False,
        description="Give each source its own (partially pooled) slope in trend fits.",
    )
    trend_changepoint_spacing_days: float = Field(
        default=12.0, gt=0,
        description="Spacing in days of the candidate dates where the changepoint trend "
        "form may change its slope (at most 40 per window); turns are dated to about this.",
    )
    trend_time_bins: int = Field(
        default=60, ge=2,
        description="At most this many time bins per window when documents are compressed "
        "to weighted rows before sampling (each row keeps its documents' mean time).",
    )
    trend_score_resolution: float = Field(
        default=0.25, ge=0,
        description="Scores are rounded to this step before Student-t fits group equal "
        "values (0 = no rounding; exact for integer LLM scores).",
    )

    # --- dynamics (neural ODE, analytics/dynamics/) -----------------------------------
    dynamics_resolution: Literal["day", "week"] = Field(
        default="day",
        description="Period of the dynamics series: 'day' or 'week' (mean score per period; "
        "periods without documents stay missing and are masked, never filled).",
    )
    dynamics_holdout_fraction: float = Field(
        default=0.2, ge=0.0, lt=0.9,
        description="Share of the newest periods held out to score the ODE against "
        "persistence and a linear trend (0 = no validation).",
    )
    dynamics_ensemble_size: int = Field(
        default=8, ge=1, le=64,
        description="Ensemble members (own seed and bootstrap resample of windows each); "
        "the bands come from them.",
    )
    dynamics_iterations: int = Field(
        default=300, ge=1, description="Optimizer iterations per dynamics fit.")
    dynamics_window_days: int = Field(
        default=28, ge=2,
        description="Length of the multiple-shooting windows the training series is cut into.",
    )
    dynamics_hidden: int = Field(
        default=16, ge=1, description="Hidden units of the small network term of the ODE.")
    dynamics_solver: Literal["euler", "midpoint", "rk4"] = Field(
        default="euler",
        description="Fixed-step torchdiffeq solver on the period grid (step = one period).",
    )
    dynamics_seed: int = Field(default=0, description="Seed of dynamics fits (member m: seed+m).")
    dynamics_band: float = Field(
        default=0.8, gt=0.0, lt=1.0,
        description="Coverage of the ensemble bands and scenario readouts (0.8 = 10th-90th "
        "percentile).",
    )

    # --- reports ---------------------------------------------------------------------
    reports_dir: Path = Field(
        default=PROJECT_ROOT / "reports",
        description="Folder where the scheduled run writes trend reports.",
    )
    reports_keep: int = Field(
        default=10, ge=1, description="The scheduled run keeps this many newest reports per topic."
    )
    reports_window: str = Field(
        default="90d", description="Window of the scheduled report: 30d, 90d, 180d, 1y or all."
    )

    # --- secrets (never stored in the database, logs or exports) ----------------------
    openai_api_key: SecretStr | None = Field(
        default=None, description="API key for the OpenAI-compatible scoring endpoint."
    )
    google_api_key: SecretStr | None = Field(
        default=None, description="API key for the Google Custom Search JSON API."
    )
    youtube_api_key: SecretStr | None = Field(
        default=None, description="API key for the YouTube Data API v3."
    )
    reddit_client_secret: SecretStr | None = Field(
        default=None, description="Reddit app client secret."
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
    relevance_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Offline scorer: cosine a passage needs to count for this score "
        "(None = the backend default; 0 = every passage is relevant).")


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
