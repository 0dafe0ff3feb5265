"""Stillwater: practice management for therapists and their clients."""
