"""The memory: day shards, the index, privacy filtering, feedback and statistics over them.

Imports ``delta_core.plugin``, ``delta_core.records`` and the shared modules only.
"""
