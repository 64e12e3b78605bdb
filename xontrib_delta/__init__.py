"""xonsh glue for Delta: event handlers, aliases and suggestion hooks (nothing heavy at import).

How ``xontrib load delta`` finds Delta
--------------------------------------
Delta ships ``xontrib/delta.py`` in the ``xontrib`` namespace package (a three-line shim that
re-exports :func:`xontrib_delta.load._load_xontrib_` and ``_unload_xontrib_``) and declares
**no** entry point in the ``xonsh.xontribs`` group. Why, checked against xonsh 0.25's
``xonsh/main.py`` and ``xonsh/xontribs.py``:

* Every ``xonsh.xontribs`` entry point is loaded by ``_autoload_xontribs`` at each start
  unless the shell runs with ``--no-rc`` or ``$XONTRIBS_AUTOLOAD_DISABLED`` is set, and that
  includes ``xonsh script.xsh`` and ``xonsh -c …`` (their ``norc`` is not set). Installing
  Delta would then switch recording on for every xonsh of every user of that Python, without
  the user asking: the opposite of opting in by writing ``xontrib load delta``.
* ``find_xontrib`` still finds the shim: after the autoload cache and the entry points it
  looks up ``xontrib.<name>``. The order costs xonsh one scan of all entry points per
  ``xontrib load``, which it pays for any xontrib installed this way.
* The shim works the same from an editable install (setuptools maps the namespace portion)
  and from a wheel (``site-packages/xontrib/delta.py``), and keeps all code in
  ``xontrib_delta`` where ``xontrib unload`` cannot half-remove it.

Modules: :mod:`xontrib_delta.load` (what load adds and unload removes),
:mod:`xontrib_delta.session` (the per-shell recorder and its handlers),
:mod:`xontrib_delta.aliases` (``delta`` and ``:memory``).
"""
