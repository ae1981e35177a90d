"""Finished mattes → Blender: an Image sequence, compositor nodes, a sequencer mask.

- Image: the EXR sequence loaded as an Image datablock (source SEQUENCE,
  Non-Color); whoever shows it sets frame_start / frame_offset /
  frame_duration so matte N lands on the scene frame that shows source frame N.
- Compositor (clips): Movie Clip → Set Alpha (alpha replaced by the matte) →
  the scene's output: the Composite node of ``scene.node_tree`` in 4.x, the
  Group Output of the ``scene.compositing_node_group`` node group in 5.x.
- Sequencer (strips): the matte as a muted image strip above the strip, and a
  Mask modifier on the strip that uses it. Blender 5.0.x crashes in
  ``strip.modifiers.new()`` from a script, so there the modifier is left to the
  artist, with the steps said.

Every function returns what it did as (level, message) pairs for the UI;
nodes and strips carry a "segmatte" name so a second run updates them rather
than adding more.
"""

from __future__ import annotations

import os

import bpy

from . import sources
from .client.manifest import ManifestError, MatteSequence, read_manifest

PREFIX = "segmatte"
MODIFIER = "segmatte matte"


class AttachError(RuntimeError):
    """The mattes cannot be attached; the message says why."""


def read_sequences(path: str) -> list[MatteSequence]:
    """The layers of a finished job from its manifest (``segmatte.client.manifest``)."""
    try:
        info = read_manifest(path)
    except ManifestError as exc:
        raise AttachError(str(exc)) from None
    for seq in info.sequences:
        if seq.gaps:
            raise AttachError(f"the mattes of {path} have gaps (frames "
                              f"{', '.join(map(str, seq.gaps[:5]))}); run the job again to fill them")
    return info.sequences


def stored_path(path: str) -> str:
    """``path`` as Blender should store it: relative (``//``) once the .blend is saved."""
    if bpy.data.filepath:
        try:
            return bpy.path.relpath(path)
        except ValueError:  # another drive (Windows)
            return path
    return path


# --- the image ------------------------------------------------------------------


def load_image(seq: MatteSequence) -> bpy.types.Image:
    """The matte sequence as an Image (reloaded when it was loaded before)."""
    if not os.path.exists(seq.first_path):
        raise AttachError(f"the matte {seq.first_path} is missing")
    image = bpy.data.images.load(seq.first_path, check_existing=True)
    image.filepath = stored_path(seq.first_path)
    image["segmatte"] = True
    image.source = "SEQUENCE"
    image.colorspace_settings.name = "Non-Color"
    image.reload()
    return image


def frame_user(user, seq: MatteSequence, scene_first: int) -> None:
    """Set an ImageUser (or Image node) so scene frame ``scene_first`` shows matte ``seq.first``."""
    user.frame_start = scene_first
    user.frame_offset = seq.first - 1
    user.frame_duration = seq.count
    if hasattr(user, "use_auto_refresh"):
        user.use_auto_refresh = True
    if hasattr(user, "use_cyclic"):
        user.use_cyclic = False


# --- compositor -------------------------------------------------------------------


def uses_node_group() -> bool:
    """Blender 5.x composites with a node group on the scene; 4.x with ``scene.node_tree``."""
    return bpy.app.version >= (5, 0, 0)


def compositor_tree(scene: bpy.types.Scene):
    """The scene's compositor node tree and the socket that is its output (made if need be)."""
    if uses_node_group():
        tree = scene.compositing_node_group
        if tree is None:
            tree = bpy.data.node_groups.new(f"{PREFIX} compositing", "CompositorNodeTree")
            scene.compositing_node_group = tree
        if not any(i.in_out == "OUTPUT" for i in tree.interface.items_tree
                   if getattr(i, "item_type", "SOCKET") == "SOCKET"):
            tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        out = next((n for n in tree.nodes if n.bl_idname == "NodeGroupOutput"), None)
        if out is None:
            out = tree.nodes.new("NodeGroupOutput")
            out.location = (600, 0)
        return tree, out.inputs[0]
    fresh = not scene.use_nodes or scene.node_tree is None
    scene.use_nodes = True
    tree = scene.node_tree
    if fresh:
        # The default tree (Render Layers → [Reroute →] Composite, Viewer) would render the
        # 3D scene for nothing: keep only its Composite node.
        for node in [n for n in tree.nodes if n.bl_idname != "CompositorNodeComposite"]:
            tree.nodes.remove(node)
    out = next((n for n in tree.nodes if n.bl_idname == "CompositorNodeComposite"), None)
    if out is None:
        out = tree.nodes.new("CompositorNodeComposite")
        out.location = (600, 0)
    return tree, out.inputs["Image"]


def _node(tree, idname: str, name: str, location: tuple[float, float]):
    node = tree.nodes.get(name)
    if node is not None and node.bl_idname != idname:
        tree.nodes.remove(node)
        node = None
    if node is None:
        node = tree.nodes.new(idname)
        node.name = node.label = name
        node.location = location
    return node


def _replace_alpha(node) -> None:
    if hasattr(node, "mode"):
        node.mode = "REPLACE_ALPHA"
    else:  # 5.x: the mode is a menu input
        node.inputs["Type"].default_value = "Replace Alpha"


def attach_compositor(scene: bpy.types.Scene, clip: bpy.types.MovieClip,
                      seqs: list[MatteSequence], shift: int) -> list[tuple[str, str]]:
    """Movie Clip → Set Alpha (matte) → output, one Set Alpha per layer; the first is output."""
    tree, output = compositor_tree(scene)
    said = []
    clip_node = _node(tree, "CompositorNodeMovieClip", f"{PREFIX} clip", (-400, 0))
    clip_node.clip = clip
    for i, seq in enumerate(seqs):
        image = load_image(seq)
        y = -300 * i
        matte = _node(tree, "CompositorNodeImage", f"{PREFIX} matte {seq.layer}", (-400, y - 300))
        matte.image = image
        frame_user(matte, seq, seq.first - shift)
        set_alpha = _node(tree, "CompositorNodeSetAlpha", f"{PREFIX} set alpha {seq.layer}",
                          (100, y))
        _replace_alpha(set_alpha)
        tree.links.new(clip_node.outputs["Image"], set_alpha.inputs["Image"])
        source = matte.outputs["Image"] if seq.channels == "y" else matte.outputs["Alpha"]
        tree.links.new(source, set_alpha.inputs["Alpha"])
        if i == 0:
            ours = not output.is_linked or all(
                link.from_node.name.startswith(PREFIX)
                or link.from_node.bl_idname == "CompositorNodeRLayers" for link in output.links)
            if ours:
                tree.links.new(set_alpha.outputs["Image"], output)
                said.append(("INFO", f"compositor: {clip.name} with matte {seq.layer} as alpha"))
            else:
                said.append(("WARNING", f"compositor: your output is wired already; connect "
                             f"'{set_alpha.name}' yourself"))
    return said


# --- sequencer ------------------------------------------------------------------------


def modifiers_crash() -> bool:
    """Blender 5.0.x crashes in ``strip.modifiers.new()`` called from Python."""
    return bpy.app.version[:2] == (5, 0)


def _free_channel(scene: bpy.types.Scene, above: int, first: int, last: int, skip=()) -> int:
    busy = set()
    for strip in sources.strips_of(scene):
        if strip.name in skip:
            continue
        _, left, right = sources.strip_timing(strip)
        if left <= last and right - 1 >= first:
            busy.add(strip.channel)
    channel = above + 1
    while channel in busy:
        channel += 1
    return min(channel, 128)


def attach_sequencer(scene: bpy.types.Scene, strip, seqs: list[MatteSequence],
                     shift: int) -> list[tuple[str, str]]:
    """Muted matte strips above ``strip``; a Mask modifier using the first (not on 5.0.x)."""
    said = []
    strips = sources.strips_of(scene)
    matte_strips = []
    for seq in seqs:
        name = f"{strip.name} {seq.layer}"[:63]
        old = strips.get(name)
        if old is not None:
            strips.remove(old)
        scene_first = seq.first - shift
        channel = _free_channel(scene, strip.channel, scene_first, scene_first + seq.count - 1)
        matte = strips.new_image(name, seq.first_path, channel=channel, frame_start=scene_first)
        for number in range(seq.first + 1, seq.last + 1):
            matte.elements.append(os.path.basename(seq.files[number]))
        if bpy.data.filepath:
            matte.directory = stored_path(os.path.dirname(seq.first_path)) + "/"
        matte.colorspace_settings.name = "Non-Color"
        matte.mute = True
        matte["segmatte"] = True
        matte_strips.append(matte)
    matte = matte_strips[0]
    if modifiers_crash():
        said.append(("WARNING", f"sequencer: matte strip '{matte.name}' added (muted). Blender "
                     f"{bpy.app.version_string} crashes when a script adds a strip modifier, so add "
                     f"it by hand: select '{strip.name}', Strip > Modifiers > Add Modifier > Mask, "
                     f"Mask Input Type: Strip, Mask: '{matte.name}'"))
        return said
    modifier = strip.modifiers.get(MODIFIER)
    if modifier is None or modifier.type != "MASK":
        if modifier is not None:
            strip.modifiers.remove(modifier)
        modifier = strip.modifiers.new(MODIFIER, "MASK")
    modifier.input_mask_type = "STRIP"
    modifier.input_mask_strip = matte
    said.append(("INFO", f"sequencer: mask modifier on '{strip.name}' uses '{matte.name}'"))
    return said


# --- a finished job ---------------------------------------------------------------------


def attach(target: dict, manifest: str) -> list[tuple[str, str]]:
    """Attach a finished job's mattes to what it was made for (see connection.JobWatch)."""
    scene = bpy.data.scenes.get(target.get("scene", "")) or bpy.context.scene
    seqs = read_sequences(manifest)
    shift = int(target["shift"])
    said: list[tuple[str, str]] = []
    for seq in seqs:
        load_image(seq)
    if target["kind"] == "CLIP":
        clip = bpy.data.movieclips.get(target["name"])
        if clip is None:
            raise AttachError(f"the clip {target['name']} is gone")
        if target.get("compositor", True):
            said += attach_compositor(scene, clip, seqs, shift)
        else:
            said.append(("INFO", f"mattes loaded as image {os.path.basename(seqs[0].first_path)}"))
    else:
        strip = sources.strips_of(scene).get(target["name"])
        if strip is None:
            raise AttachError(f"the strip {target['name']} is gone")
        said += attach_sequencer(scene, strip, seqs, shift)
    return said
