"""segmatte inside DaVinci Resolve and Fusion: gather, submit, watch, attach.

Standard library only (pyzmq and the vendored ``segmatte.client`` are found by
:mod:`segmatte_resolve.locate`). The menu scripts in ``Utility/`` and ``Comp/``
are tiny launchers; everything they share lives here so both read the same
clip, build the same spec and attach mattes the same way.
"""

__version__ = "0.1.0"
