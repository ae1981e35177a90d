"""Add-on preferences: where the server is, the token, how to start it, where mattes go."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from .client import protocol as P
from .connection import default_token_path

DEFAULT_FOLDER = "//mattes/{source}"
DEFAULT_NAME = "{source}"


class SEGMATTE_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    use_custom_address: BoolProperty(
        name="Custom Address", default=False,
        description="Connect to this host and port; off: find the running server by itself "
        "(SEGMATTE_ADDRESS, the server's endpoint file, its config, then the default port)")
    host: StringProperty(name="Host", default="127.0.0.1")
    port: IntProperty(name="Port", default=P.DEFAULT_PORT, min=1, max=65535)
    token_path: StringProperty(
        name="Token File", default="", subtype="FILE_PATH",
        description=f"The server's auth token; empty: {default_token_path()}")
    autostart_command: StringProperty(
        name="Server Command", default="segmatte serve",
        description="Command line Start Server runs (in the background)")
    output_folder: StringProperty(
        name="Output Folder", default=DEFAULT_FOLDER, subtype="DIR_PATH",
        description="Where mattes go; {source}, {scene}, {blend}, {engine} are filled in, "
        "// is the .blend file's folder (the temp folder while the file is unsaved)")
    output_name: StringProperty(
        name="Output Name", default=DEFAULT_NAME,
        description="Name of the matte sequence (NAME.####.exr; NAME_OBJECT.####.exr for "
        "several objects); same fields as the folder")

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        col = layout.column(heading="Server")
        col.prop(self, "use_custom_address")
        sub = col.column()
        sub.active = self.use_custom_address
        sub.prop(self, "host")
        sub.prop(self, "port")
        col.prop(self, "token_path")
        col.prop(self, "autostart_command")
        col = layout.column(heading="Mattes")
        col.prop(self, "output_folder")
        col.prop(self, "output_name")


def get(context: bpy.types.Context | None = None):
    """These preferences, or None when the add-on is not enabled under this name."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


classes = (SEGMATTE_AP_preferences,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
