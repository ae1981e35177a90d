"""Editable shapes from mattes: tracked Bézier splines for Blender, Fusion, Nuke, JSON, SVG.

Pure numpy / OpenCV (no torch): contours.py traces outlines, correspondence.py
follows them through frames, fit.py fits splines with a stable point count,
smooth.py smooths them over time, raster.py measures them against the matte,
build.py runs it all, and export_*.py write each host's format.
"""

from .build import Settings, build
from .model import ObjectShapes, Quality, Segment, ShapeSet, SplineFrame
from .source import MatteSequence, SourceError, open_mattes

__all__ = ["MatteSequence", "ObjectShapes", "Quality", "Segment", "Settings", "ShapeSet",
           "SourceError", "SplineFrame", "build", "open_mattes"]
