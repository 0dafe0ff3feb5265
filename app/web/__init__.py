"""The web layer: Litestar controllers by area, guards and htmx helpers. Handlers stay thin."""
