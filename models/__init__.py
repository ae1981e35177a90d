"""segmatte.models: engines that turn frames into mattes, and the finishing stages.

Imports nothing of ``segmatte.server``; torch loads here, never inside a host.
"""
