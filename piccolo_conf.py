"""Piccolo configuration: the engine comes from DATABASE_URL (SQLite by default, PostgreSQL in production)."""

import os

from piccolo.conf.apps import AppRegistry

from app.config import default_database_url

DATABASE_URL = os.environ.get("DATABASE_URL") or default_database_url()

if DATABASE_URL.startswith(("postgres://", "postgresql://")):
    from piccolo.engine.postgres import PostgresEngine

    DB = PostgresEngine(config={"dsn": DATABASE_URL})
else:
    from pathlib import Path

    from piccolo.engine.sqlite import SQLiteEngine

    _path = Path(DATABASE_URL.removeprefix("sqlite:///"))
    _path.parent.mkdir(parents=True, exist_ok=True)
    DB = SQLiteEngine(path=str(_path), timeout=30)

APP_REGISTRY = AppRegistry(apps=["app.models.piccolo_app"])
