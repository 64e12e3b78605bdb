"""Inference over token ids: backends (PyTorch, ONNX Runtime), KV caches, decoding jobs,
speculative drafts and the engine that runs them. Nothing here knows about text.

Modules import torch/onnxruntime only where they need them (backends, graph, export).
"""
