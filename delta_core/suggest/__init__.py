"""Suggestions: history estimates, ranking, the model completer, the mixture and its weight.

Imports ``delta_core.inference``, ``delta_core.tokenizer``, ``delta_core.memory`` and below.
"""
