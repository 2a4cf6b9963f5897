"""Streamlit entry point: shared page config and navigation over pages/.

Run: ``streamlit run app.py``. The shared view (topic, period, sources, outlets) is drawn
here, in the sidebar, so it persists across pages. Each page is one thin file in pages/
that reads through ``analytics.dashboard`` and draws figures from ``analytics.charts``.
Add a page = one file + one line.
"""

import streamlit as st

from analytics.dashboard import auth, loaders, navigation, state

navigation.entrypoint_ran = True  # deep links on a fresh server: see ensure_entrypoint

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/documents.py", title="Documents", icon=":material/article:"),
    st.Page("pages/trends.py", title="Trends", icon=":material/trending_down:"),
    st.Page("pages/event.py", title="Event view", icon=":material/flag:"),
    st.Page("pages/scenarios.py", title="Scenarios", icon=":material/timeline:"),
    st.Page("pages/summaries.py", title="Summaries", icon=":material/summarize:"),
    st.Page("pages/validation.py", title="Validation", icon=":material/fact_check:"),
    st.Page("pages/reports.py", title="Reports", icon=":material/description:"),
    st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("pages/sources.py", title="Sources", icon=":material/cloud_download:"),
]

st.set_page_config(page_title="Opinion analytics", page_icon=":material/insights:", layout="wide")
# Login and roles (or: local only) before any page draws. A visitor who may not see the
# pages gets no page, no filters and no page list (the navigation is registered, hidden, so
# Streamlit's automatic pages/ list does not appear either).
allowed = auth.gate()
page = st.navigation(PAGES, position="sidebar" if allowed else "hidden")
if allowed:
    navigation.narrow_sidebar()
    loaders.refresh_on_new_data()  # cached reads live until the store changes
    state.remember_page(page.url_path)
    state.sidebar()  # drawn here, every run, so the view persists across pages
    navigation.start_warm_up()
    page.run()
