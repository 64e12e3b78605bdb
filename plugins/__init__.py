"""Delta's built-in plugins, installed as ``delta_plugins``: one module per plugin.

Each module is declared as an entry point in group ``delta`` in ``pyproject.toml``, exactly as
a third-party package would declare its own.
"""
