"""The inner host tests (inner/) run inside Blender, started by test_blender.py: never here."""

collect_ignore = ["inner"]
