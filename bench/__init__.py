"""The benchmark: ``python -m bench`` seeds a large practice group, serves the app like
production, measures every main endpoint against the framework's floor, and times the charge workers."""
