"""``uvicorn jobrelay.web.main:app``: the app built from the environment."""

from __future__ import annotations

from .app import create_app

app = create_app()
