"""Lazy access to the libraries on top (random, nn, layers, losses, optim, checkpoints)."""
__all__ = []
