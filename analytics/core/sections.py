"""The settings of each stage, one model per stage, nested in ``Settings``.

Each field is declared once, with its type, default, bounds and help text. Its environment
variable is ``ANALYTICS_`` + the section's ``env_prefix`` + the field name (upper case),
unless the field names its own (``env(...)``): the names are those the product always
had, so existing ``.env`` files and ``secrets.toml`` keep working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def env(name: str) -> dict[str, Any]:
    """``json_schema_extra`` for a field whose variable is not prefix + field name."""
    return {"env": name}


class Section(BaseModel):
    """A group of settings; ``env_prefix`` maps its fields to flat variable names."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
    env_prefix: ClassVar[str] = ""

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Flat variable name (lower case, without ANALYTICS_) -> field name."""
        names = {}
        for field_name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            names[str(extra.get("env") or f"{cls.env_prefix}{field_name}").lower()] = field_name
        return names


class IngestSettings(Section):
    """Providers, the shared HTTP layer and article extraction."""

    batch_size: int = Field(
        default=100, ge=1, json_schema_extra=env("ingest_batch_size"),
        description="Documents written per transaction during an ingest run.")
    initial_lookback_days: int = Field(
        default=7, ge=1,
        description="Window of a source's first scheduled run (later runs start where the "
        "last successful run of that source ended).")
    news_providers: list[str] = Field(
        default=["gdelt", "google", "rss"],
        description="Providers the scheduled run uses for the topic's 'news' source (google "
        "is skipped without its key, rss without feeds).")
    http_timeout_s: float = Field(
        default=20.0, gt=0, description="Timeout in seconds for one HTTP request (connect and "
        "read).")
    http_max_retries: int = Field(
        default=4, ge=0,
        description="Retries of one request after a 5xx, a 429, a connection error or a "
        "truncated/invalid JSON body (other 4xx are never retried).")
    http_backoff_base_s: float = Field(
        default=1.0, ge=0, description="First wait of the exponential backoff between retries "
        "(s).")
    http_backoff_max_s: float = Field(
        default=60.0, ge=0, description="Longest wait of the exponential backoff between "
        "retries (s).")
    http_retry_after_max_s: float = Field(
        default=300.0, ge=0,
        description="Cap on a server's Retry-After wait (s); a longer wait is cut to this.")
    http_user_agent: str = Field(
        default="opinion-analytics/0.1 (+https://example.org/opinion-analytics)",
        description="User-Agent sent with every request (Reddit requires a descriptive one).")
    article_fetch_workers: int = Field(
        default=4, ge=1, description="Article pages fetched and extracted in parallel.")
    article_requests_per_second: float = Field(
        default=2.0, ge=0, description="Request rate limit per news web site when fetching "
        "pages; 0 = no limit.")
    max_document_chars: int = Field(
        default=200_000, ge=1_000, json_schema_extra=env("ingest_max_document_chars"),
        description="A document text (or comment) longer than this many characters is cut "
        "to it when stored, with a note in its meta ('truncated'), so that no scorer spends "
        "unbounded time on one document.")
    article_max_bytes: int = Field(
        default=5_000_000, ge=1, description="Article pages larger than this are skipped "
        "(bytes).")
    refetch_known_articles: bool = Field(
        default=False,
        description="Fetch and extract an article page again even when its canonical URL "
        "is already stored (off: known URLs are counted as unchanged without a request).")
    near_duplicate_threshold: float = Field(
        default=0.8, ge=0, le=1,
        description="Estimated Jaccard similarity of word shingles above which a news "
        "article is linked to an earlier one as a syndicated copy (duplicate_of).")
    gdelt_base_url: str = Field(
        default="https://api.gdeltproject.org/api/v2/doc/doc",
        description="GDELT DOC 2.0 API endpoint.")
    gdelt_requests_per_second: float = Field(
        default=0.2, ge=0, description="Request rate limit for the GDELT API (it asks for 1 "
        "per 5 s; 0 = no limit).")
    gdelt_slice_hours: float = Field(
        default=6.0, gt=0,
        description="Length of one GDELT time slice; a slice that hits the record cap is "
        "split in halves so no article is silently dropped.")
    gdelt_min_slice_minutes: float = Field(
        default=15.0, gt=0, description="Shortest GDELT slice; a full one at this length is "
        "logged.")
    gdelt_max_records: int = Field(
        default=250, ge=1, le=250, description="maxrecords per GDELT call (the API's cap is "
        "250).")
    google_base_url: str = Field(
        default="https://www.googleapis.com/customsearch/v1",
        description="Google Custom Search JSON API endpoint.")
    google_engine_id: str | None = Field(
        default=None, description="Programmable Search Engine id (the `cx` parameter).")
    google_api_key: SecretStr | None = Field(
        default=None, description="API key for the Google Custom Search JSON API.")
    google_requests_per_second: float = Field(
        default=1.0, ge=0,
        description="Request rate limit for the Google Custom Search API; 0 = no limit.")
    google_max_results: int = Field(
        default=100, ge=1, le=100, description="Results fetched per query (the API stops at "
        "100).")
    rss_requests_per_second: float = Field(
        default=1.0, ge=0,
        description="Request rate limit when downloading RSS/Atom feeds; 0 = no limit.")
    youtube_base_url: str = Field(
        default="https://www.googleapis.com/youtube/v3",
        description="YouTube Data API v3 base URL.")
    youtube_api_key: SecretStr | None = Field(
        default=None, description="API key for the YouTube Data API v3.")
    youtube_daily_quota: int = Field(
        default=10_000, ge=0,
        description="Quota units the product may spend per day (Pacific time, as Google "
        "counts); a run stops cleanly before exceeding it (search = 100, list = 1).")
    youtube_requests_per_second: float = Field(
        default=5.0, ge=0, description="Request rate limit for the YouTube Data API; 0 = no limit.")
    youtube_max_videos_per_query: int = Field(
        default=100, ge=1, description="Videos collected per query and window (search pages "
        "of 50).")
    youtube_max_comment_pages: int = Field(
        default=10, ge=0, description="commentThreads pages (100 threads each) fetched per "
        "video.")
    reddit_base_url: str = Field(
        default="https://oauth.reddit.com", description="Reddit OAuth API base URL.")
    reddit_auth_url: str = Field(
        default="https://www.reddit.com/api/v1/access_token",
        description="Reddit OAuth token endpoint (application-only client credentials).")
    reddit_client_id: str | None = Field(
        default=None, description="Reddit app client id (reddit.com/prefs/apps, 'script' "
        "app).")
    reddit_client_secret: SecretStr | None = Field(
        default=None, description="Reddit app client secret.")
    reddit_requests_per_second: float = Field(
        default=1.0, ge=0, description="Request rate limit for Reddit (it allows 100 per "
        "minute); 0 = no limit.")
    reddit_max_submissions_per_query: int = Field(
        default=100, ge=1, description="Submissions collected per query (and subreddit) and "
        "window.")
    reddit_more_comments_limit: int = Field(
        default=10, ge=0,
        description="'More comments' expansions (morechildren calls, 100 comments each) per "
        "submission; 0 keeps only the comments of the first page.")


class LLMSettings(Section):
    """The OpenAI-compatible endpoint used by scoring, summaries and 'ask the corpus'."""

    env_prefix: ClassVar[str] = "openai_"

    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Base URL of the OpenAI-compatible API (OpenAI, Azure OpenAI, Ollama "
        "http://localhost:11434/v1, vLLM, llama.cpp server).")
    api_key: SecretStr | None = Field(
        default=None, description="API key for the OpenAI-compatible endpoint.")
    model: str = Field(
        default="gpt-4o-mini", description="Chat model used for level-1 scoring and level-2 "
        "summaries by the 'openai' backend; part of the cache key.")
    embedding_model: str | None = Field(
        default=None,
        description="Embeddings model of the endpoint (/v1/embeddings) used for retrieval; "
        "empty = the packaged offline MiniLM.")
    temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="Sampling temperature (recorded per "
        "analysis, part of the cache key).")
    seed: int | None = Field(
        default=7, description="Sampling seed sent to the endpoint (recorded per analysis, "
        "part of the cache key).")
    max_tokens: int = Field(
        default=700, ge=1, description="Most output tokens one scoring or summary call may "
        "produce.")
    timeout_s: float = Field(
        default=60.0, gt=0, description="Timeout of one API request in seconds (then "
        "retried).")
    max_retries: int = Field(
        default=4, ge=0, description="Retries of one call after 429/5xx/timeouts, with "
        "exponential backoff that honours Retry-After.")
    concurrency: int = Field(default=8, ge=1, description="Calls in flight at the same time.")
    requests_per_minute: int = Field(
        default=500, ge=1, description="Client-side limit on requests per minute.")
    tokens_per_minute: int = Field(
        default=200_000, ge=1,
        description="Client-side limit on tokens per minute (estimated prompt + max output).")
    prices: dict[str, tuple[float, float]] = Field(
        default={
            "gpt-4o-mini": (0.15, 0.60), "gpt-4.1-mini": (0.40, 1.60),
            "gpt-4.1-nano": (0.10, 0.40), "gpt-4o": (2.50, 10.00),
            "text-embedding-3-small": (0.02, 0.0),
        },
        description="Price table: model -> [USD per 1M input tokens, USD per 1M output "
        "tokens] (JSON in the environment). Unknown models cost 0 and cannot be budgeted.")


class ScoreSettings(Section):
    """Level-1 scoring: backend choice, passages and the run budget."""

    backend: Literal["offline", "openai"] = Field(
        default="offline", json_schema_extra=env("scoring_backend"),
        description="Scoring backend: 'offline' (embeddings + lexicon, no network, the "
        "default) or 'openai' (any OpenAI-compatible chat completions endpoint).")
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Sentence embedding model used for retrieval (packaged offline MiniLM).")
    embedding_threads: int = Field(
        default=0, ge=0,
        description="Cores the packaged MiniLM encoder uses: that many single-threaded "
        "workers, each encoding length-sorted batches of 16 (0 = one per usable core, at "
        "most 8).")
    attitude_model: str = Field(
        default="",
        description="Weights of the learned offline attitude scorer (score kind 'attitude'): "
        "an .npz written by `python -m analytics train-attitude` ('' = the one shipped in "
        "the package, analytics/score/models/attitude.npz).")
    chunk_size: int = Field(
        default=600, ge=50, description="Target chunk length in characters when splitting "
        "texts.")
    chunk_overlap: int = Field(default=80, ge=0, description="Characters shared by adjacent "
                               "chunks.")
    retrieval_top_k: int = Field(
        default=4, ge=1, description="Passages retrieved per score question for each "
        "document.")
    max_comments_per_document: int = Field(
        default=60, ge=0,
        description="At most this many comments (highest-liked first) are scored with a "
        "document.")
    budget_usd: float | None = Field(
        default=None, ge=0.0, json_schema_extra=env("scoring_budget_usd"),
        description="Cost cap of one scoring run in USD: the run stops cleanly before a "
        "call would exceed it. Empty = no cap.")
    budget_pool: str = Field(
        default="workers", json_schema_extra=env("scoring_budget_pool"),
        description="Name of the budget pool that `worker --budget` draws from: every worker "
        "naming it shares one cap in the database, and its spend accumulates across runs "
        "until `worker --reset-budget`.")
    worker_poll_s: float = Field(
        default=30.0, gt=0, json_schema_extra=env("worker_poll_s"),
        description="A worker with nothing to score looks for new documents this often "
        "(seconds).")
    retry_failed: bool = Field(
        default=False, json_schema_extra=env("scoring_retry_failed"),
        description="Scheduled runs and workers also re-score documents whose analysis "
        "failed (a failed analysis is otherwise final until `score --retry-failed`).")


class SummarizeSettings(Section):
    """Level-2 summaries."""

    context_tokens: int = Field(
        default=6000, ge=500, json_schema_extra=env("summary_context_tokens"),
        description="Context budget of one level-2 summary prompt; more level-1 summaries "
        "than fit are summarised map-reduce.")


class ValidationSettings(Section):
    """Human gold labels: how the validation sample is drawn and calibrations are fitted."""

    env_prefix: ClassVar[str] = "validation_"

    sampling: Literal["simple", "stratified"] = Field(
        default="stratified",
        description="How the validation sample is drawn: 'simple' random, or 'stratified' "
        "by source and month (proportional allocation); inclusion probabilities are stored.")
    sample_size: int = Field(default=300, ge=1, description="Documents drawn into a new "
                             "validation sample.")
    min_per_stratum: int = Field(
        default=2, ge=0,
        description="Stratified sampling: at least this many documents from every source x "
        "month stratum (small strata get a higher, still known, inclusion probability).")
    seed: int = Field(default=2024, description="RNG seed of the validation sample (recorded "
                      "with it).")
    calibration_min_labels: int = Field(
        default=100, ge=10,
        description="Calibration from the analysts' coding (`validate calibrate`): a score is "
        "calibrated only when at least this many coded documents also have a machine value.")
    calibration_folds: int = Field(
        default=5, ge=2, le=20,
        description="Calibration: folds of the cross-validation that measures it (and of the "
        "inner one that chooses its regularisation).")
    calibration_bootstrap: int = Field(
        default=1000, ge=100,
        description="Calibration: bootstrap resamples of the documents behind the 95 % "
        "intervals of alpha, MAE and their differences.")
    calibration_seed: int = Field(
        default=0, description="Calibration: RNG seed of the folds and the bootstrap (part of "
        "the calibration's content key).")


class TrendSettings(Section):
    """Bayesian trend fits (analytics/trends)."""

    env_prefix: ClassVar[str] = "trend_"

    sampler: Literal["nutpie", "pymc"] = Field(
        default="nutpie",
        description="NUTS implementation for trend fits: 'nutpie' (compiled once per model "
        "shape, fast) or 'pymc' (PyMC's own NUTS, the slower baseline).")
    likelihood: Literal["student_t", "normal"] = Field(
        default="student_t",
        description="Noise model of trend fits: 'student_t' (robust to outlying documents) "
        "or 'normal'.")
    draws: int = Field(default=1000, ge=50, description="Posterior draws per chain.")
    tune: int = Field(default=1000, ge=50, description="Tuning steps per chain.")
    chains: int = Field(default=4, ge=1, description="Number of sampler chains.")
    seed: int = Field(default=20260101, description="Seed of the trend sampler (recorded "
                      "with every fit).")
    per_source_slopes: bool = Field(
        default=False,
        description="Give each source its own (partially pooled) slope in trend fits.")
    time_bins: int = Field(
        default=60, ge=2,
        description="At most this many time bins per window when documents are compressed "
        "to weighted rows before sampling (each row keeps its documents' mean time).")
    score_resolution: float = Field(
        default=0.25, ge=0,
        description="Scores are rounded to this step before Student-t fits group equal "
        "values (0 = no rounding; exact for integer LLM scores).")
    warm_up: bool = Field(
        default=True,
        description="Compile the straight-line model in a background thread when the "
        "dashboard starts, so a first trend fit does not wait for the compiler.")


class DynamicsSettings(Section):
    """The neural-ODE dynamics (analytics/dynamics)."""

    env_prefix: ClassVar[str] = "dynamics_"

    resolution: Literal["day", "week"] = Field(
        default="day",
        description="Period of the dynamics series: 'day' or 'week' (mean score per period; "
        "periods without documents stay missing and are masked, never filled).")
    holdout_fraction: float = Field(
        default=0.2, ge=0.0, lt=0.9,
        description="Share of the newest periods held out to score the ODE against "
        "persistence and a linear trend (0 = no validation).")
    ensemble_size: int = Field(
        default=8, ge=1, le=64,
        description="Ensemble members (own seed and bootstrap resample of windows each); "
        "the bands come from them.")
    iterations: int = Field(default=300, ge=1, description="Optimizer iterations per "
                            "dynamics fit.")
    window_days: int = Field(
        default=28, ge=2,
        description="Length of the multiple-shooting windows the training series is cut "
        "into.")
    hidden: int = Field(default=16, ge=1, description="Hidden units of the small network "
                        "term of the ODE.")
    solver: Literal["euler", "midpoint", "rk4"] = Field(
        default="euler",
        description="Fixed-step torchdiffeq solver on the period grid (step = one period).")
    seed: int = Field(default=0, description="Seed of dynamics fits (member m: seed+m).")
    band: float = Field(
        default=0.8, gt=0.0, lt=1.0,
        description="Coverage of the ensemble bands and scenario readouts (0.8 = 10th-90th "
        "percentile).")


class ReportSettings(Section):
    """Exported trend reports."""

    env_prefix: ClassVar[str] = "reports_"

    dir: Path = Field(
        default=PROJECT_ROOT / "reports",
        description="Folder where the scheduled run writes trend reports.")
    keep: int = Field(default=10, ge=1, description="The scheduled run keeps this many newest "
                      "reports per topic.")
    window: str = Field(
        default="90d", pattern=r"^(30d|90d|180d|1y|all)$",
        description="Window of the scheduled report: 30d, 90d, 180d, 1y or all.")


class PipelineSettings(Section):
    """The scheduled run."""

    cron_schedule: str = Field(
        default="0 */6 * * *", description="Crontab schedule printed by `python -m "
        "analytics cron`.")


class DashboardSettings(Section):
    """Who may do what in the dashboard (login through Streamlit's OIDC, roles)."""

    env_prefix: ClassVar[str] = "dashboard_"

    admins: list[str] = Field(
        default=[], description="E-mail addresses (as the login provider states them) with "
        "the admin role: ingestion and scoring from the Sources page, the demo preparation, "
        "the settings in effect — and everything analysts may do.")
    analysts: list[str] = Field(
        default=[], description="E-mail addresses with the analyst role: code labels, ask the "
        "corpus, refit trends and dynamics, build summaries, add events — and everything "
        "viewers may do.")
    viewers: list[str] = Field(
        default=[], description="E-mail addresses with the viewer role: read and export.")
    default_role: Literal["viewer", "none"] = Field(
        default="viewer", description="Role of a signed-in user who is in none of the lists: "
        "'viewer', or 'none' (no access).")
    anonymous_role: Literal["viewer", "analyst", "admin"] = Field(
        default="admin", description="Role of everyone when no login is configured (no [auth] "
        "in .streamlit/secrets.toml). The default suits a dashboard that only this machine can "
        "open (127.0.0.1); use 'viewer' if you allow remote access without login.")
    allow_remote_without_login: bool = Field(
        default=False, description="Serve the dashboard on an address other than 127.0.0.1 "
        "(server.address) without a login. Off by default: anyone who can reach the port "
        "would get the anonymous role.")


class AlertSettings(Section):
    """Alerts: channels (e-mail over SMTP, a webhook), links and default rule thresholds."""

    env_prefix: ClassVar[str] = "alert_"

    base_url: str = Field(
        default="http://127.0.0.1:8501",
        description="Address of the dashboard as recipients open it; alerts link to the event "
        "view or saved view under it.")
    smtp_host: str = Field(default="", description="SMTP server for alert e-mails (empty = no "
                           "e-mail channel).")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port (587 "
                           "STARTTLS, 465 TLS, 25 plain).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="SMTP transport security: 'starttls' (upgrade after "
        "connecting), 'tls' (TLS from the start, SMTPS) or 'none' (local relays only).")
    smtp_username: str = Field(default="", description="SMTP login name (empty = no login).")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password "
                                     "(secret: environment or secrets.toml only).")
    smtp_sender: str = Field(default="opinion-analytics@localhost",
                             description="From address of alert e-mails.")
    email_recipients: list[str] = Field(
        default=[], description="Addresses that receive alert e-mails (JSON list in the "
        "environment).")
    webhook_url: SecretStr = Field(
        default=SecretStr(""), description="Webhook that receives alerts as JSON with a "
        "Slack-/Teams-compatible 'text' field (empty = no webhook). Secret: its path usually "
        "holds a token.")
    timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one SMTP or webhook "
                             "delivery attempt (s).")
    retries: int = Field(default=3, ge=0, le=10, description="Retries of a failed delivery "
                         "(connection refused, timeout, 5xx) with exponential back-off.")
    backoff_base_s: float = Field(default=1.0, ge=0, description="First back-off wait between "
                                  "delivery retries (s); doubles each retry.")
    cooldown_hours: float = Field(
        default=24.0, ge=0, description="Default cool-down of a new rule: after an alert, the "
        "rule's next alerts within this many hours are recorded as suppressed, not sent.")
    p_threshold: float = Field(default=0.95, gt=0.5, lt=1.0, description="Default threshold "
                               "of P(decline)/P(rise) rules.")
    volume_alpha: float = Field(
        default=0.001, gt=0, lt=0.5, description="Default significance of volume rules: a "
        "spike or drop is reported when its tail probability under the baseline (negative "
        "binomial) is below this, after a Bonferroni correction over the outlets/sources "
        "tested.")
    volume_recent_days: int = Field(default=3, ge=1, le=30, description="Days whose document "
                                    "count volume rules test.")
    volume_baseline_days: int = Field(default=28, ge=7, le=365, description="Trailing days "
                                      "before them that make the baseline of volume rules.")
    alpha_threshold: float = Field(default=0.667, gt=0, lt=1, description="Default threshold "
                                   "of agreement rules (Krippendorff's alpha; 0.667 is the "
                                   "usual floor for tentative conclusions).")
    trend_window_days: int = Field(
        default=120, ge=30, le=730, description="Trailing days the trend rules (turning "
        "points, P(decline)/P(rise)) fit the turning-point model on.")
    turning_point_recent_days: int = Field(
        default=30, ge=7, le=365, description="A turning point is reported when it is dated "
        "within this many days of the evaluation (older ones are history, not news).")


# Settings attribute -> section model, in the order the docs list them.
SECTIONS: dict[str, type[Section]] = {
    "ingest": IngestSettings,
    "llm": LLMSettings,
    "score": ScoreSettings,
    "summarize": SummarizeSettings,
    "validation": ValidationSettings,
    "trends": TrendSettings,
    "dynamics": DynamicsSettings,
    "reports": ReportSettings,
    "pipeline": PipelineSettings,
    "dashboard": DashboardSettings,
    "alerts": AlertSettings,
}
