"""ASGI entry point for uvicorn/gunicorn: ``uvicorn app.asgi:app``."""

from app.web.app import create_app

app = create_app()
