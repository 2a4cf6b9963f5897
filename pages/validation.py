"""Validation: code a sample by hand, compare with the machine, correct the trends for bias.

Untrusted text (titles, bodies, comments) is drawn with st.text / st.dataframe only. The
machine's scores of a document stay hidden until the analyst has saved their own.
"""

import pandas as pd
import streamlit as st

from analytics import validate as v
from analytics.charts import validation as charts
from analytics.core.settings import get_settings
from analytics.dashboard import actions, auth, loaders
from analytics.dashboard.state import page_start

view, status = page_start("Validation")
topic = view.topic
st.caption("Human coding of a random sample checks the machine scores and corrects the trends "
           "for scorer bias. The sample covers the whole topic; the sidebar's window and "
           "source filters do not apply here.")

state = loaders.validation_state(topic)
sample, labels = state["sample"], state["labels"]

code_tab, agreement_tab, trend_tab, calibrate_tab, sample_tab = st.tabs(
    ["Code documents", "Agreement", "Corrected trends", "Calibrate", "Sample & CSV"])


# --- coding -----------------------------------------------------------------------------
def _go_next(queue: pd.DataFrame) -> None:
    st.session_state["validation_doc"] = v.next_uncoded(
        queue, st.session_state.get("validation_doc")) or st.session_state.get("validation_doc")


with code_tab:
    annotator = st.text_input("Your name (annotator)", key="annotator",
                              help="Each label is stored with your name and the time. A second "
                              "annotator coding the same documents gives inter-coder reliability.")
    if sample is None or sample.documents.empty:
        st.info("No validation sample yet. Draw one in the **Sample & CSV** tab, or run "
                "`python -m analytics validate sample`.")
    else:
        queue = v.coding_queue(sample, labels, annotator)
        ids = queue["document_id"].tolist()
        if st.session_state.get("validation_doc") not in ids:
            st.session_state["validation_doc"] = v.next_uncoded(queue) or ids[0]
        done = int(queue["coded_by_you"].sum())
        st.progress(done / len(queue), text=f"You have coded {done} of {len(queue)} sampled "
                    "documents. Code them in this (random) order so a partly coded sample "
                    "stays a random sample.")
        pick, step = st.columns([4, 1])
        position = dict(zip(queue["document_id"], queue["position"], strict=True))
        mine = dict(zip(queue["document_id"], queue["coded_by_you"], strict=True))
        pick.selectbox("Document", ids, key="validation_doc",
                       format_func=lambda i: f"{position[i] + 1}. document {i}"
                       + (" ✓ coded" if mine[i] else ""))
        step.button("Next uncoded", on_click=_go_next, args=(queue,), width="stretch")
        document_id = int(st.session_state["validation_doc"])
        coding = loaders.coding_view(topic, document_id, annotator)
        document, previous = coding["document"], coding["previous"]
        if document is None:
            st.warning("This document was deleted; pick another one.")
        else:
            st.caption(f"{document['source']} · {document['published_at']:%Y-%m-%d} · "
                       f"document {document_id}")
            st.text(document["title"])
            st.text(document["text"])
            if not document["comments"].empty:
                st.markdown(f"**Comments** ({len(document['comments'])})")
                st.dataframe(document["comments"], hide_index=True, width="stretch",
                             height=min(400, 38 + 35 * len(document["comments"])))
            with st.form(f"code_form_{document_id}"):
                values = {}
                for score in topic.scores:
                    st.markdown(f"**{score.label}** — {score.question}")
                    st.caption(f"{score.low} · {score.neutral} · {score.high}")
                    left, right = st.columns([4, 1])
                    # An unsaved score starts as "not addressed": a hurried save must not
                    # record a neutral 5 the coder never chose.
                    earlier = previous.get(score.key)
                    value = left.slider(score.label, 0.0, 10.0, 5.0 if earlier is None else earlier,
                                        0.5, key=f"value_{document_id}_{score.key}",
                                        label_visibility="collapsed",
                                        help="Untick *Not addressed* for the slider to count.")
                    not_addressed = right.checkbox(
                        "Not addressed", value=earlier is None,
                        key=f"na_{document_id}_{score.key}")
                    values[score.key] = None if not_addressed else value
                submitted = st.form_submit_button("Save labels", type="primary",
                                                  disabled=not auth.can("analyst"))
            if submitted:
                pi = queue.loc[queue["document_id"] == document_id,
                               "inclusion_probability"].iloc[0]
                if actions.save_labels(topic, document_id, annotator, values, float(pi)):
                    st.rerun()  # the progress counter and the queue above must show the save
            revealed = loaders.coding_view(topic, document_id, annotator)["revealed"]
            if revealed is None:
                st.caption("The machine's scores stay hidden until you have saved your own, "
                           "so they cannot anchor your judgement.")
            else:
                st.markdown("**Machine scores** (shown now that you have saved yours)")
                st.dataframe(revealed.drop(columns=["score"]), hide_index=True, width="stretch",
                             key="revealed_scores")


# --- agreement --------------------------------------------------------------------------
checks = loaders.agreement_view(topic)
with agreement_tab:
    agreement, pairs = checks["agreement"], checks["pairs"]
    if agreement.empty:
        st.info("No document has both a human label and a machine score yet. Code some "
                "documents in the **Code documents** tab (or import a CSV).")
    else:
        st.markdown("Machine vs human, per score and scoring model. Pairs are documents that "
                    "both rated as addressing the score; *addressed agreement* is how often "
                    "they agree on whether the score is addressed at all.")
        st.dataframe(agreement, hide_index=True, width="stretch", column_config={
            **{c: st.column_config.NumberColumn(format="%.2f") for c in
               ("alpha", "alpha_low", "alpha_high", "mae", "spearman", "bias",
                "addressed_agreement", "addressed_kappa")},
            "alpha_low": st.column_config.NumberColumn("α low (95%)", format="%.2f"),
            "alpha_high": st.column_config.NumberColumn("α high (95%)", format="%.2f"),
            "alpha_basis": st.column_config.TextColumn("α and MAE measured on")})
        if agreement["alpha_basis"].ne(v.IN_SAMPLE).any():
            st.caption("A calibrated score was fitted on these same labels, so its agreement "
                       "on them would flatter it: its α and MAE are the cross-validated "
                       "figures measured when it was adopted (Spearman and bias are on these "
                       "labels).")
        st.markdown("**How to read alpha** (Krippendorff, interval level)")
        for verdict, meaning in v.VERDICT_MEANING.items():
            st.markdown(f"- **{verdict}**: {meaning}")
        labels_by_key = {s.key: s.label for s in topic.scores}
        chosen = st.selectbox("Scatter for score", topic.score_keys,
                              format_func=labels_by_key.get, key="agreement_score")
        st.plotly_chart(charts.machine_vs_human(pairs[pairs["score"] == chosen],
                                                labels_by_key[chosen]), width="stretch")
    intercoder = v.intercoder_table(labels, topic)
    st.markdown("**Inter-coder reliability** (documents coded by two or more annotators)")
    if intercoder["documents"].sum() == 0:
        st.caption("No document has been coded by two annotators yet.")
    else:
        st.dataframe(intercoder, hide_index=True, width="stretch")


# --- corrected trends -------------------------------------------------------------------
with trend_tab:
    trends = checks["corrected"]
    if trends.empty:
        st.info("A corrected trend needs a validation sample and scored documents. Draw a "
                "sample, code it, then come back.")
    else:
        st.markdown(
            "The **naive** slope is ordinary least squares on the machine scores. The "
            "**corrected** slope uses the human labels of the random sample to remove the "
            "scorer's bias (design-based supervised learning: pseudo-outcome "
            "Ŷ + (R/π)(Y − Ŷ), robust standard errors). Slopes are score points per year; "
            "intervals are 95%.")
        if trends["corrected_slope"].notna().any():
            st.plotly_chart(charts.slope_comparison(trends.dropna(subset=["corrected_slope"]),
                                                    topic), width="stretch")
        st.dataframe(trends.drop(columns=["verdict"]), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.2f")
                                    for c in trends.columns if c.endswith(
                                        ("slope", "low", "high", "_z"))})
        labels_by_key = {s.key: s.label for s in topic.scores}
        for row in trends.itertuples():
            st.markdown(f"**{labels_by_key.get(row.score, row.score)}** — {row.verdict}")


# --- calibration from the analysts' coding ------------------------------------------------
CALIBRATION_COLUMNS = {
    "score": "score", "labels": "n labels", "alpha_current": "α uncalibrated [95%]",
    "alpha_calibrated": "α calibrated [95%]", "alpha_gain": "α gain [95%]",
    "mae_current": "MAE uncalibrated [95%]", "mae_calibrated": "MAE calibrated [95%]",
    "mae_change": "MAE change [95%]", "decision": "decision"}

with calibrate_tab:
    config = get_settings().validation
    st.markdown(
        "Fit a per-score **calibration of the offline scorer on your own coding**: a linear "
        "map of the scorer's value and the sentence features it read (ridge regression, "
        "regularisation chosen by inner cross-validation) to the coders' values, scaled so "
        "that it does not shrink changes (a trend read through it keeps its size). It is "
        f"measured by {config.calibration_folds}-fold cross-validation on the same labels, "
        "next to the scorer without calibration; intervals are 95% from "
        f"{config.calibration_bootstrap} bootstrap resamples of the documents. It is proposed "
        "only when **α is higher, MAE lower and the interval of the α gain lies above 0**. "
        f"A score needs at least {config.calibration_min_labels} coded documents that the "
        "scorer also rated.")
    adopted_now = loaders.adopted_calibrations(topic)
    report_key = f"calibration_report_{topic.name}"
    labels_by_key = {s.key: s.label for s in topic.scores}
    if not adopted_now.empty:
        st.markdown("**Adopted now** (figures: cross-validated when it was adopted; "
                    "“before” is the scorer without calibration)")
        st.dataframe(adopted_now.assign(score=adopted_now["score"].map(
            lambda k: labels_by_key.get(k, k))), hide_index=True, width="stretch",
            key="adopted_calibrations")
        with st.popover("Withdraw a calibration", disabled=not auth.can("analyst")):
            chosen = st.multiselect("Scores", list(adopted_now["score"]),
                                    format_func=lambda k: labels_by_key.get(k, k),
                                    key="withdraw_scores")
            st.caption("The offline scorer reports these scores uncalibrated again; their "
                       "earlier analyses become current (nothing is scored twice).")
            if st.button("Withdraw", key="withdraw_calibration", disabled=not chosen):
                withdrawn = actions.withdraw_calibration(topic, chosen)
                if withdrawn is not None:
                    st.session_state[report_key] = withdrawn
                    st.rerun()
    if st.button("Calibrate", key="calibrate", disabled=not auth.can("analyst"),
                 help="Measures a calibration of every score; nothing changes until you adopt."):
        measured = actions.calibrate(topic)
        if measured is not None:
            st.session_state[report_key] = measured
    report = st.session_state.get(report_key)
    if report is not None and report.withdrawn:
        withdrawn = ", ".join(labels_by_key.get(k, k) for k in sorted(report.withdrawn))
        st.success(f"Withdrew the calibration of {withdrawn}. Scorer version now "
                   f"{report.scorer_after}; the uncalibrated analyses are being made current "
                   "in the background (progress on the Sources page).")
    elif report is not None:
        st.caption(f"Calibration run {report.run_id} · scorer {report.scorer_before} · the "
                   "yardstick is the scorer without calibration (an adopted calibration was "
                   "fitted on these labels, so it cannot be its own)")
        table = report.table()
        table["score"] = table["score"].map(lambda k: labels_by_key.get(k, k))
        st.dataframe(table.rename(columns=CALIBRATION_COLUMNS), hide_index=True,
                     width="stretch", key="calibration_table")
        for result in report.results:
            name = labels_by_key.get(result.score, result.score)
            if result.refused:
                st.warning(f"**{name}**: not calibrated — {result.refused}")
            elif result.beats:
                st.success(f"**{name}**: the calibration {result.decision}.")
            else:
                st.info(f"**{name}**: calibration {result.decision}.")
        if report.adopted:
            adopted = ", ".join(labels_by_key.get(k, k) for k in sorted(report.adopted))
            st.success(f"Adopted {adopted}. Scorer version now "
                       f"{report.scorer_after}; the topic is being re-scored in the background "
                       "(cached, resumable; progress on the Sources page).")
        elif report.proposable:
            proposed = ", ".join(labels_by_key.get(k, k) for k in report.proposable)
            if st.button(f"Adopt ({proposed})", type="primary",
                         key="adopt_calibration", disabled=not auth.can("analyst"),
                         help="Adopts exactly the calibration measured above."):
                adopted = actions.adopt_calibration(topic, report)
                if adopted is not None:
                    st.session_state[report_key] = adopted
                    st.rerun()
        elif any(r.adopted_now for r in report.results):
            st.caption("Nothing new to adopt: the calibrations measured are those adopted now.")
        else:
            st.caption("Nothing to adopt: no calibration beats the uncalibrated scorer.")


# --- sample and CSV ---------------------------------------------------------------------
with sample_tab:
    settings = get_settings()
    if sample is not None:
        p = sample.parameters
        coded = labels["document_id"].isin(sample.documents["document_id"]).groupby(
            labels["document_id"]).any().sum() if not labels.empty else 0
        st.markdown(f"Current sample: **{p.get('design')}**, {p.get('drawn')} of "
                    f"{p.get('frame_documents')} documents (seed {p.get('seed')}), drawn "
                    f"{sample.created_at:%Y-%m-%d %H:%M} UTC; {coded} coded by someone.")
    with st.form("draw_sample"):
        st.markdown("**Draw a new sample** (labels already saved are kept; the coding list "
                    "becomes the new sample)")
        design = st.selectbox("Design", ["stratified", "simple"],
                              index=0 if settings.validation.sampling == "stratified" else 1,
                              help="stratified = by source and month, proportional allocation")
        size = st.number_input("Documents", 1, 10_000, settings.validation.sample_size)
        seed = st.number_input("Seed", 0, 2**31 - 1, settings.validation.seed)
        if st.form_submit_button("Draw sample", disabled=not auth.can("analyst")) \
                and actions.draw_sample(
                topic, int(size), design, int(seed)):
            st.session_state.pop("validation_doc", None)
    st.markdown("**Code outside the app**")
    sheet = checks["coding_sheet"]
    if sheet:
        st.download_button("Download coding sheet (CSV)", sheet,
                           file_name=f"{topic.name}-coding-sheet.csv", mime="text/csv")
    st.download_button("Download labels (CSV)", v.labels_csv(labels),
                       file_name=f"{topic.name}-gold-labels.csv", mime="text/csv",
                       disabled=labels.empty)
    upload = st.file_uploader("Import labels (CSV: document_id, score, value, annotator)",
                              type=["csv"], key="labels_upload")
    default_annotator = st.text_input("Annotator for rows without one", key="import_annotator")
    if upload is not None and st.button("Import labels", disabled=not auth.can("analyst")):
        actions.import_labels(topic, upload.getvalue(), default_annotator or None)
