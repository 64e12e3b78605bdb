"""The language model itself: its shape, the torch module, checkpoints (torch only where said).

Imports the shared modules only.
"""
