"""The plugin system: hook specifications, the component protocols, the plugin manager.

Imports ``delta_core.records`` and the shared modules (config, paths, log) only.
"""
