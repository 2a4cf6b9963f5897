"""Streamlit-only code, so that every page file only draws.

``navigation`` (the deep-link guard), ``state`` (the shared sidebar and the view it
defines), ``loaders`` (cached reads), ``actions`` (work started from buttons, with
progress), ``safe`` (rendering untrusted text), ``tables`` (table shaping for pages).
"""
