"""Validation against human coding: samples with known inclusion probabilities, gold
labels, agreement (Krippendorff's alpha...), and bias-corrected (DSL) trends.

Modules: ``metrics`` (statistics), ``sampling``, ``labels`` (store, CSV), ``agreement``
(tables and the per-score sentence), ``dsl`` (corrected trends), ``coding`` (what the
coding form may show).
"""

from analytics.validate.agreement import (
    CROSS_VALIDATED,
    IN_SAMPLE,
    agreement_note,
    agreement_per_score,
    agreement_table,
    human_consensus,
    intercoder_table,
    machine_scores,
    paired_ratings,
)
from analytics.validate.coding import (
    coding_queue,
    document_for_coding,
    next_uncoded,
    revealed_scores,
    saved_labels,
)
from analytics.validate.dsl import (
    MIN_GOLD_FOR_CORRECTION,
    SlopeEstimate,
    TrendComparison,
    corrected_trend_table,
    dsl_trend,
)
from analytics.validate.labels import (
    LABEL_CSV_COLUMNS,
    ImportResult,
    LabelError,
    coding_sheet_csv,
    import_labels_csv,
    labels_csv,
    labels_frame,
    save_labels,
)
from analytics.validate.metrics import (
    GOOD_ALPHA,
    MIN_PAIRS,
    TENTATIVE_ALPHA,
    VERDICT_MEANING,
    Agreement,
    alpha_verdict,
    cohen_kappa,
    compare,
    krippendorff_alpha,
)
from analytics.validate.sampling import (
    SAMPLE_RUN_KIND,
    GoldSampleInfo,
    allocate,
    draw_sample,
    draw_sample_frame,
    latest_sample,
    sampling_frame,
    strata,
)

__all__ = [
    "CROSS_VALIDATED", "GOOD_ALPHA", "IN_SAMPLE", "LABEL_CSV_COLUMNS",
    "MIN_GOLD_FOR_CORRECTION", "MIN_PAIRS",
    "SAMPLE_RUN_KIND", "TENTATIVE_ALPHA", "VERDICT_MEANING", "Agreement", "GoldSampleInfo",
    "ImportResult", "LabelError", "SlopeEstimate", "TrendComparison", "agreement_note",
    "agreement_per_score", "agreement_table", "allocate", "alpha_verdict", "coding_queue",
    "coding_sheet_csv", "cohen_kappa", "compare", "corrected_trend_table", "document_for_coding",
    "draw_sample", "draw_sample_frame", "dsl_trend", "human_consensus", "import_labels_csv",
    "intercoder_table", "krippendorff_alpha", "labels_csv", "labels_frame", "latest_sample",
    "machine_scores", "next_uncoded", "paired_ratings", "revealed_scores", "sampling_frame",
    "save_labels", "saved_labels", "strata",
]
