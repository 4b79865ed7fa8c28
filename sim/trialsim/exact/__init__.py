"""Exact characteristics: the cascade of stages enumerated, and design searches."""
