"""The shell-aware tokenizer: escaping, pre-tokenizer, subword models on disk, the token format.

Imports ``delta_core.context`` and below.
"""
