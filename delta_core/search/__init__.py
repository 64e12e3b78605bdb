"""Search by meaning and words: embeddings state, vector index, lexical ranking, the UI.

Imports ``delta_core.memory`` and below.
"""
