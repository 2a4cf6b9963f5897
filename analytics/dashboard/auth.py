"""Login and roles.

With an ``[auth]`` section in ``.streamlit/secrets.toml`` the dashboard uses Streamlit's
built-in OIDC login (``st.login`` / ``st.user``); a signed-in user's role comes from the
settings (``dashboard_admins``, ``dashboard_analysts``, ``dashboard_viewers``, else
``dashboard_default_role``). Roles are cumulative:

- viewer: read every page and export reports;
- analyst: also code labels, ask the corpus, refit trends and dynamics, build summaries;
- admin: also ingestion, scoring and settings.

Without a login the dashboard is meant for this machine only: ``.streamlit/config.toml``
binds it to 127.0.0.1, the sidebar says so, and everyone has ``dashboard_anonymous_role``.
Bound to another address without a login, the app refuses to show anything unless
``dashboard_allow_remote_without_login`` is set.

Pages call ``can(role)`` to enable a button and actions call ``require(role, what)``
before doing the work (a disabled button is not the only guard).
"""

from __future__ import annotations

import ipaddress

import streamlit as st

from analytics.core.settings import get_settings

ROLES = ("viewer", "analyst", "admin")
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def login_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` configures an OIDC provider (``[auth]``)."""
    try:
        auth = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return False
    return bool(auth) and ("server_metadata_url" in auth or any(
        isinstance(value, dict) and "server_metadata_url" in value for value in auth.values()))


def _email() -> str | None:
    if not st.user.is_logged_in:
        return None
    value = st.user.get("email") or st.user.get("preferred_username") or st.user.get("sub")
    return str(value).strip().lower() if value else None


def owner() -> str | None:
    """Whose saved views and rules: the signed-in user's e-mail; None (shared by everyone
    who can open the dashboard) when no login is configured."""
    return _email() if login_configured() else None


def current_role() -> str | None:
    """The visitor's role; None when signed out or without access."""
    settings = get_settings().dashboard
    if not login_configured():
        return settings.anonymous_role
    email = _email()
    if email is None:
        return None
    for role, members in (("admin", settings.admins), ("analyst", settings.analysts),
                          ("viewer", settings.viewers)):
        if email in {m.strip().lower() for m in members}:
            return role
    return None if settings.default_role == "none" else settings.default_role


def can(role: str) -> bool:
    current = current_role()
    return current is not None and ROLES.index(current) >= ROLES.index(role)


def why_not(role: str) -> str | None:
    """A button's help text when the visitor lacks the role (None when they have it)."""
    if can(role):
        return None
    return f"Needs the {role} role (you are {current_role() or 'not signed in'})."


def require(role: str, what: str) -> bool:
    """True when the visitor may do ``what``; otherwise says why and returns False."""
    if can(role):
        return True
    st.error(f"{what} needs the {role} role; you are {current_role() or 'not signed in'}. "
             "Ask an admin to add your e-mail to ANALYTICS_DASHBOARD_"
             f"{role.upper()}S.")
    return False


def is_loopback(address: str | None) -> bool:
    if not address:
        return False  # Streamlit's default: every interface
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def gate() -> bool:
    """Run before navigation: True when the visitor may see the pages. Otherwise it has
    drawn why not (sign in, no access, or served remotely without a login) and the caller
    must not run a page. Shows who the visitor is, or that the dashboard is local and
    without login, in the sidebar."""
    settings = get_settings().dashboard
    if not login_configured():
        address = st.get_option("server.address")
        if not is_loopback(address) and not settings.allow_remote_without_login:
            st.error(f"This dashboard has no login configured but is served on "
                     f"'{address or 'every interface'}'. Bind it to 127.0.0.1 (the default "
                     "in .streamlit/config.toml), configure a login ([auth] in "
                     ".streamlit/secrets.toml, see docs/CONFIGURATION.md), or set "
                     "ANALYTICS_DASHBOARD_ALLOW_REMOTE_WITHOUT_LOGIN=true on purpose.")
            return False
        with st.sidebar:
            st.caption(f"No login configured: everyone who can open this page is "
                       f"**{settings.anonymous_role}**"
                       + (" (served on 127.0.0.1: this machine only)."
                          if is_loopback(address) else f" (served on {address})."))
        return True
    if not st.user.is_logged_in:
        st.title("Opinion analytics")
        st.info("Sign in to open the dashboard.")
        if st.button("Log in", type="primary"):
            st.login()
        return False
    role = current_role()
    with st.sidebar:
        st.caption(f"Signed in as **{_email()}** — {role or 'no access'}")
        if st.button("Log out", key="auth_logout"):
            st.logout()
    if role is None:
        st.warning(f"Your account ({_email()}) has no access to this dashboard. Ask an admin "
                   "to add it to ANALYTICS_DASHBOARD_VIEWERS.")
        return False
    return True
