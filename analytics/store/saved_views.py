"""Saved views: a name for a page and its URL state, per user (``owner``) or shared (None).

The URL state is the one the dashboard already writes (``dashboard.state``: topic, period,
sources, outlets, plus a page's own parameters such as the event view's date), so a saved
view reopens exactly what a shared link would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.core.errors import BadInput
from analytics.store.models import SavedView, utcnow

MAX_NAME = 80
MAX_PARAM = 2000


@dataclass(frozen=True)
class ViewRecord:
    id: int
    name: str
    page: str
    params: dict[str, str]
    owner: str | None
    updated_at: dt.datetime


def _record(row: SavedView) -> ViewRecord:
    return ViewRecord(row.id, row.name, row.page, dict(row.params or {}), row.owner,
                      row.updated_at)


def _owned(owner: str | None):
    return SavedView.owner.is_(None) if owner is None else SavedView.owner == owner


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise BadInput("Give the view a name.")
    if len(name) > MAX_NAME:
        raise BadInput(f"A view's name has at most {MAX_NAME} characters.")
    return name


def _clean_params(params: dict) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        value = str(value)
        if len(value) > MAX_PARAM:
            raise BadInput(f"The view's '{key}' is too long to save.")
        out[str(key)] = value
    return out


def list_views(session: Session, owner: str | None) -> list[ViewRecord]:
    rows = session.scalars(select(SavedView).where(_owned(owner)).order_by(SavedView.name))
    return [_record(r) for r in rows]


def get_view(session: Session, view_id: int, owner: str | None) -> ViewRecord:
    row = session.scalars(select(SavedView).where(SavedView.id == view_id,
                                                  _owned(owner))).first()
    if row is None:
        raise BadInput(f"No saved view #{view_id} (it may have been deleted).")
    return _record(row)


def _taken(session: Session, name: str, owner: str | None, other_than: int | None) -> bool:
    query = select(SavedView.id).where(_owned(owner), SavedView.name == name)
    if other_than is not None:
        query = query.where(SavedView.id != other_than)
    return session.scalars(query).first() is not None


def save_view(session: Session, name: str, page: str, params: dict, owner: str | None,
              replace: bool = False) -> ViewRecord:
    """A new saved view; with ``replace``, a view of the same name is updated instead."""
    name = clean_name(name)
    params = _clean_params(params)
    row = session.scalars(select(SavedView).where(_owned(owner),
                                                  SavedView.name == name)).first()
    if row is not None and not replace:
        raise BadInput(f"A view named '{name}' exists already: choose another name or "
                       "replace it.")
    if row is None:
        row = SavedView(name=name, owner=owner, page=page, params=params)
        session.add(row)
    else:
        row.page, row.params, row.updated_at = page, params, utcnow()
    session.flush()
    return _record(row)


def rename_view(session: Session, view_id: int, name: str, owner: str | None) -> ViewRecord:
    name = clean_name(name)
    row = session.scalars(select(SavedView).where(SavedView.id == view_id,
                                                  _owned(owner))).first()
    if row is None:
        raise BadInput(f"No saved view #{view_id} (it may have been deleted).")
    if _taken(session, name, owner, view_id):
        raise BadInput(f"A view named '{name}' exists already.")
    row.name, row.updated_at = name, utcnow()
    session.flush()
    return _record(row)


def delete_view(session: Session, view_id: int, owner: str | None) -> None:
    row = session.scalars(select(SavedView).where(SavedView.id == view_id,
                                                  _owned(owner))).first()
    if row is None:
        raise BadInput(f"No saved view #{view_id} (it may have been deleted).")
    session.delete(row)
