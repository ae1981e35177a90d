"""segmatte's DaVinci Resolve / Fusion scripts, shipped as data for ``segmatte install resolve``.

Nothing here is imported by the server: the installer copies ``Utility/``,
``Comp/`` and ``segmatte_resolve/`` into the user's Fusion Scripts folder,
where Resolve's own Python runs them.
"""
