"""Page sections shared by several pages."""

from streamlit.testing.v1 import AppTest


def _page(measured: bool):
    def script(measured: bool):
        import pandas as pd

        from analytics.dashboard.panels import outlet_changes

        nan = float("nan")
        change = -1.0 if measured else nan
        frame = pd.DataFrame({
            "group": ["a", "b"], "source": ["news", "news"], "change": [change, nan],
            "low": [-1.5, nan], "high": [-0.5, nan], "moved": [measured, False],
            "before_n": [4, 1], "after_n": [5, 2], "before_mean": [5.0, nan],
            "after_mean": [4.0, nan]})
        outlet_changes(frame, "title", "0 = low", key="changes")

    return AppTest.from_function(script, kwargs={"measured": measured}).run()


def test_outlet_changes_draws_only_measured_outlets():
    app = _page(measured=True)
    assert not app.exception and not app.caption
    assert len(app.get("plotly_chart")) == 1


def test_outlet_changes_says_why_there_is_no_chart():
    app = _page(measured=False)
    assert not app.exception and not app.get("plotly_chart")
    assert "No outlet has at least 3 scored documents on each side" in app.caption[0].value
