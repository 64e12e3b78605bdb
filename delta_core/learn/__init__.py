"""Learning from the memory: extraction, datasets, training, evaluation, registry, promotion.

Imports ``delta_core.suggest`` and below.
"""
