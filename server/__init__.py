"""segmatte.server: the sidecar — job spec, media reading, EXR writing, pipeline, CLI."""
