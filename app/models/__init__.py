"""The Piccolo app: tables and migrations. No business rules live here.

Rule numbers in comments ("R4") are the sections of docs/rules.md; docs/architecture.md describes
the layers.
"""
