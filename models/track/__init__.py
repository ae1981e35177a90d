"""Promptable video object tracking (SAM 2.1, EdgeTAM, SAM 3 tracker) through ``transformers``.

The models are ``transformers``' own video classes; what lives here is what no
library does for us: streaming frames through a *bounded* inference session,
turning job prompts into processor inputs, smooth source-resolution mattes,
interactive corrections, and the frame order for ``both`` directions.
"""
