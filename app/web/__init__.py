"""The web layer: Litestar controllers by area, guards and htmx helpers. Handlers stay thin.

Rule numbers in comments ("R4") are the sections of docs/rules.md; docs/architecture.md describes
the layers.
"""
