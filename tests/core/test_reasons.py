"""The stated reason of a null score: written by a scorer, read back by the store and pages."""

from analytics.core.reasons import language_not_supported, stated_reason


def test_stated_reason_reads_back_what_the_scorer_writes():
    written = language_not_supported("de", "the offline scorer reads English only")
    assert written == "language not supported (de): the offline scorer reads English only"
    assert stated_reason(written) == "language not supported (de)"


def test_other_rationales_state_no_reason():
    for rationale in (None, "", "No sentence mentions NATO.",
                      "3 relevant passage(s), mean polarity +0.20; strongest: \"language\""):
        assert stated_reason(rationale) is None
