"""Reports: preview the trend report of the current view and download it as HTML, PDF or CSV."""

import streamlit as st

from analytics import report
from analytics.dashboard import badges, loaders
from analytics.dashboard.safe import escape_md
from analytics.dashboard.state import page_start

view, status = page_start("Reports")

st.caption("A report reads what the stages stored — cached trend fits, summaries and "
           "dynamics fits — and never fits anything itself. " + view.label)
window = view.window
data = loaders.load_report(view.topic.name, window, view.sources)
for note in data.notes:
    st.warning(note)
for headline in data.headlines:
    st.markdown(f"- {escape_md(headline.sentence)}")
badges.agreement_badges(view.topic)

html = loaders.report_html(view.topic.name, window, view.sources)
name = f"{view.topic.name}-{window}"
columns = st.columns(4)
# Files are built when clicked (deferred), not on every run of the page.
columns[0].download_button("HTML (interactive, offline)", lambda: html, f"{name}.html",
                           "text/html")
columns[1].download_button("CSV (zip)", lambda: report.render_csv(data), f"{name}.zip",
                           "application/zip")
columns[2].download_button("Excel", lambda: report.render_xlsx(data), f"{name}.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
if columns[3].button("Build PDF", help="Renders static charts with Chromium (a few seconds)."):
    with st.spinner("Rendering the PDF…"):
        st.session_state["report_pdf"] = (name, report.render_pdf(data))
if st.session_state.get("report_pdf", (None,))[0] == name:
    columns[3].download_button("Download PDF", st.session_state["report_pdf"][1], f"{name}.pdf",
                               "application/pdf")

st.subheader("Preview")
# The report is our own HTML: every untrusted string in it was escaped by Jinja2 autoescape.
st.iframe(html, height=900)
