"""Delta's shell-agnostic engine: the memory, the plugin system and the learning loop.

Importing this package is cheap on purpose: the shell imports it at start-up, so heavy
dependencies (torch, sentencepiece, onnxruntime) are only imported inside the modules that
need them.
"""

__version__ = "0.1.0"
