"""Delta: a learning memory for xonsh (`xontrib load delta`).

This module is only the name xonsh looks up; the xontrib lives in :mod:`xontrib_delta`
(see its docstring for why Delta is found here and not through an autoloading entry point).
"""

from xontrib_delta.load import _load_xontrib_, _unload_xontrib_

__all__ = ["_load_xontrib_", "_unload_xontrib_"]
