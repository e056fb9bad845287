"""Shared building blocks: exceptions, logging set-up and topic helpers."""
