"""Use cases. Each public function is one transaction; web handlers and jobs call these.

Rule numbers in comments ("R4") are the sections of docs/rules.md; docs/architecture.md describes
the layers.
"""
