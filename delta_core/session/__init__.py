"""The engine side of a shell session: recording on the prompt path.

Imports ``delta_core.serve`` and below.
"""
