"""Importing other shells' histories: text input helpers, the import pipeline, parallel import.

Imports ``delta_core.context``, ``delta_core.memory`` and below.
"""
