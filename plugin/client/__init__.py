"""segmatte.client: the protocol and a thin ZeroMQ client.

Standard library and pyzmq only: this package is vendored into Blender's and
Resolve's Python, where nothing else of ours (and never torch) may load.
"""

__version__ = "0.1.0"
