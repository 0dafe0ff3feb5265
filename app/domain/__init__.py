"""Pure rules of the practice: no I/O, no database, unit-tested on their own.

Rule numbers in comments ("R4") are the sections of docs/rules.md; docs/architecture.md describes
the layers.
"""
