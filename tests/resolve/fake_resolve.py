"""A fake DaVinci Resolve / Fusion scripting API, for running the real scripts without Resolve.

Built strictly from the documented API: Blackmagic's scripting README
(``Developer/Scripting/README.txt`` in a Resolve install; its facts for this
project are in ../shared/HOSTS.md) for the Resolve objects, and the Fusion
Scripting Guide / UIManager examples for the comp and UI objects. Nothing is
here that the scripts do not call, and every method keeps the documented
signature and return shape. The README wording each one relies on:

Resolve (README, "Basic Resolve API")
- ``app.GetResolve()`` / ``fu.GetResolve()`` / ``scriptapp("Resolve")``: the entry points.
- ``Resolve.GetProjectManager()`` "Returns the ProjectManager object";
  ``Resolve.GetMediaStorage()`` "Returns the MediaStorage object".
- ``ProjectManager.GetCurrentProject()`` "Returns the currently loaded Resolve project".
- ``Project.GetMediaPool()`` "Returns the Media Pool object"; ``GetCurrentTimeline()``
  "Returns the currently loaded timeline".
- ``MediaPool.GetRootFolder()`` "Returns root Folder of Media Pool";
  ``AddSubFolder(folder, name)`` "Adds new subfolder under specified Folder object with the
  given name"; ``SetCurrentFolder(Folder)`` "Sets current folder by given Folder";
  ``GetCurrentFolder()`` "Returns currently selected Folder";
  ``ImportMedia([{clipInfo}])`` "Imports file path(s) into current Media Pool folder as
  specified in list of clipInfo dict. Returns a list of the MediaPoolItems created. Each
  clipInfo gets imported as one MediaPoolItem ... ImportMedia([{"FilePath":"file_%03d.dpx",
  "StartIndex":1, "EndIndex":100}]) would import clip "file_[001-100].dpx"";
  ``AppendToTimeline([{clipInfo}, ...])`` "Appends list of clipInfos specified as dict of
  "mediaPoolItem", "startFrame" (int), "endFrame" (int), (optional) "mediaType" (int; 1 -
  Video only, 2 - Audio only), "trackIndex" (int) and "recordFrame" (int). Returns the list
  of appended timelineItems."
- ``Folder.GetName()`` "Returns the media folder name"; ``GetSubFolderList()`` "Returns a
  list of subfolders in the folder"; ``GetClipList()`` "Returns a list of clips (items)
  within the folder".
- ``MediaPoolItem.GetName()``; ``GetClipProperty(propertyName=None)`` "Returns the property
  value for the key 'propertyName'. If no argument is specified, a dict of all clip
  properties is returned." (keys used: "File Path", "Resolution" — the latter's
  "WxH" text shape is not stated; the scripts parse it defensively).
- ``Timeline.GetCurrentVideoItem()`` "Returns the current video timeline item";
  ``AddTrack(trackType, optionalSubTrackType)`` "Adds track of trackType ... Returns True
  if successful"; ``GetTrackCount(trackType)`` "Returns the number of tracks for the given
  track type"; ``GetItemListInTrack(trackType, index)`` "Returns a list of timeline items
  on that track"; ``GetSetting(settingName)`` "Returns value of timeline setting";
  ``GetCurrentTimecode()`` "Returns a string timecode representation for the current
  playhead position"; ``GetStartTimecode()`` "Returns the start timecode for the
  timeline"; ``GetStartFrame()`` "Returns the frame number at the start of timeline".
- ``TimelineItem.GetName()``; ``GetStart()`` / ``GetEnd()`` "Returns the start/end frame
  position on the timeline"; ``GetDuration()`` "Returns the item duration";
  ``GetLeftOffset()`` / ``GetRightOffset()`` "Returns the maximum extension by frame for
  clip from left/right side"; ``GetSourceStartFrame()`` / ``GetSourceEndFrame()``
  "Returns the start/end frame position of the media pool clip in the timeline clip"
  (whether a sequence counts from its first file number is not stated: the scripts
  accept both; this fake counts from 0); ``GetTrackTypeAndIndex()`` "Returns a list of
  two values that correspond to the TimelineItem's trackType (string) and trackIndex
  (int)"; ``GetMediaPoolItem()`` "Returns the media pool item corresponding to the
  timeline item if one exists"; ``GetFusionCompCount()``; ``GetFusionCompByIndex(compIndex)``
  "Returns the Fusion composition object based on given index. 1 <= compIndex <=
  timelineItem.GetFusionCompCount()"; ``AddFusionComp()`` "Adds a new Fusion composition
  associated with timeline item".
- ``MediaStorage.AddClipMattesToMediaPool(MediaPoolItem, [paths], stereoEye)`` "Adds
  specified media files as mattes for the specified MediaPoolItem. StereoEye is an
  optional argument for specifying which eye to add the matte to for stereo clips
  ("left" or "right"). Returns True if successful."

Fusion (Fusion Scripting Guide; HOSTS.md names AddTool, Clip, GlobalIn/Out,
ClipTimeStart/End, ConnectInput("EffectMask", tool), MatteControl)
- ``Composition.AddTool(id, [xpos], [ypos])`` returns the new tool;
  ``FindTool(name)`` returns the tool or None; ``GetToolList([selected], [regid])``
  returns a table (a dict keyed 1..n in Python); ``GetAttrs()`` (``COMPN_RenderStart``,
  ``COMPN_RenderEnd``); ``CurrentTime``; ``Lock()``/``Unlock()``; ``StartUndo(name)`` /
  ``EndUndo(keep)``; ``fusion.GetCurrentComp()``.
- ``Tool.GetAttrs()`` (``TOOLS_RegID``, ``TOOLS_Name``, Loader ``TOOLST_Clip_Name`` and
  ``TOOLIT_Clip_Width/Height`` as tables keyed by clip index); ``GetInput(id, [time])``;
  ``SetInput(id, value, [time])``; ``ConnectInput(id, tool)``; ``FindMainInput(index)``;
  ``Input.GetConnectedOutput()``; ``Output.GetTool()``.
- UIManager: ``fu.UIManager``; ``bmd.UIDispatcher(ui)``; ``disp.AddWindow(props, child)``;
  ``ui.VGroup/HGroup([children])``, ``ui.Label/Button/ComboBox/LineEdit/TextEdit(props)``;
  ``ui.Timer({"ID", "Interval"})`` with ``Start()``/``Stop()`` firing ``disp.On.Timeout``;
  ``win.GetItems()``, ``win.On.<ID>.<Event> = handler``, ``win.Show()/Hide()``,
  ``disp.RunLoop()/ExitLoop()``; widget properties ``Text``, ``PlainText``, ``Enabled``,
  ``CurrentText``, ``CurrentIndex``; ``ComboBox.AddItem(text)``/``Clear()``; events
  ``Clicked``, ``Close``, ``CurrentIndexChanged``. There is no documented progress-bar
  widget, so the scripts draw progress as text in a Label.

Every call is appended to ``Calls`` (object kind, method, args) for the tests to
assert on; the fake refuses what Resolve would (ImportMedia of files that are not
on disk, AppendToTimeline to a track that does not exist).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

CALLS: list[tuple[str, str, tuple]] = []


def record(kind: str, method: str, *args: Any) -> None:
    CALLS.append((kind, method, args))


def calls(method: str) -> list[tuple]:
    """Args of every recorded call to ``method``."""
    return [args for _, m, args in CALLS if m == method]


def _table(items: list) -> dict:
    """Fusion hands tables to Python as dicts keyed 1..n."""
    return {i + 1: v for i, v in enumerate(items)}


# --- Resolve ------------------------------------------------------------------


class MediaPoolItem:
    def __init__(self, name: str, props: dict[str, Any]) -> None:
        self._name, self.props = name, dict(props)
        self.mattes: list[str] = []

    def GetName(self) -> str:
        record("MediaPoolItem", "GetName")
        return self._name

    def GetClipProperty(self, propertyName: str | None = None) -> Any:
        record("MediaPoolItem", "GetClipProperty", propertyName)
        if propertyName is None:
            return dict(self.props)
        return self.props.get(propertyName, "")


class Folder:
    def __init__(self, name: str) -> None:
        self.name, self.subfolders, self.clips = name, [], []

    def GetName(self) -> str:
        record("Folder", "GetName")
        return self.name

    def GetSubFolderList(self) -> list:
        record("Folder", "GetSubFolderList")
        return list(self.subfolders)

    def GetClipList(self) -> list:
        record("Folder", "GetClipList")
        return list(self.clips)


class TimelineItem:
    def __init__(self, name: str, media: MediaPoolItem | None, start: int, duration: int,
                 left_offset: int, track: int, media_frames: int) -> None:
        self.name, self.media = name, media
        self.start, self.duration, self.left_offset, self.track = start, duration, left_offset, track
        self.media_frames = media_frames
        self.comps: list[Comp] = []

    def GetName(self) -> str:
        record("TimelineItem", "GetName")
        return self.name

    def GetStart(self) -> int:
        record("TimelineItem", "GetStart")
        return self.start

    def GetEnd(self) -> int:
        record("TimelineItem", "GetEnd")
        return self.start + self.duration

    def GetDuration(self) -> int:
        record("TimelineItem", "GetDuration")
        return self.duration

    def GetLeftOffset(self) -> int:
        record("TimelineItem", "GetLeftOffset")
        return self.left_offset

    def GetRightOffset(self) -> int:
        record("TimelineItem", "GetRightOffset")
        return self.media_frames - self.left_offset - self.duration

    def GetSourceStartFrame(self) -> int:
        record("TimelineItem", "GetSourceStartFrame")
        return self.left_offset

    def GetSourceEndFrame(self) -> int:
        record("TimelineItem", "GetSourceEndFrame")
        return self.left_offset + self.duration - 1

    def GetTrackTypeAndIndex(self) -> list:
        record("TimelineItem", "GetTrackTypeAndIndex")
        return ["video", self.track]

    def GetMediaPoolItem(self) -> MediaPoolItem | None:
        record("TimelineItem", "GetMediaPoolItem")
        return self.media

    def GetFusionCompCount(self) -> int:
        record("TimelineItem", "GetFusionCompCount")
        return len(self.comps)

    def GetFusionCompByIndex(self, compIndex: int) -> Comp | None:
        record("TimelineItem", "GetFusionCompByIndex", compIndex)
        return self.comps[compIndex - 1] if 1 <= compIndex <= len(self.comps) else None

    def AddFusionComp(self) -> Comp:
        record("TimelineItem", "AddFusionComp")
        comp = Comp.clip_comp(self.duration)
        self.comps.append(comp)
        return comp


class Timeline:
    def __init__(self, name: str, fps: int = 24, start_frame: int = 86400,
                 start_tc: str = "01:00:00:00") -> None:
        self.name, self.fps, self.start_frame, self.start_tc = name, fps, start_frame, start_tc
        self.tracks: list[list[TimelineItem]] = [[]]
        self.playhead = start_frame
        self.current: TimelineItem | None = None

    def _tc(self, frame: int) -> str:
        f = frame - self.start_frame + 3600 * self.fps  # start TC is 01:00:00:00
        s, ff = divmod(f, self.fps)
        m, ss = divmod(s, 60)
        h, mm = divmod(m, 60)
        return f"{h:02d}:{mm:02d}:{ss:02d}:{ff:02d}"

    def GetCurrentVideoItem(self) -> TimelineItem | None:
        record("Timeline", "GetCurrentVideoItem")
        return self.current

    def AddTrack(self, trackType: str, optionalSubTrackType: str | None = None) -> bool:
        record("Timeline", "AddTrack", trackType)
        if trackType != "video":
            return False
        self.tracks.append([])
        return True

    def GetTrackCount(self, trackType: str) -> int:
        record("Timeline", "GetTrackCount", trackType)
        return len(self.tracks) if trackType == "video" else 0

    def GetItemListInTrack(self, trackType: str, index: int) -> list:
        record("Timeline", "GetItemListInTrack", trackType, index)
        return list(self.tracks[index - 1]) if trackType == "video" else []

    def GetSetting(self, settingName: str = "") -> Any:
        record("Timeline", "GetSetting", settingName)
        return str(self.fps) if settingName == "timelineFrameRate" else ""

    def GetCurrentTimecode(self) -> str:
        record("Timeline", "GetCurrentTimecode")
        return self._tc(self.playhead)

    def GetStartTimecode(self) -> str:
        record("Timeline", "GetStartTimecode")
        return self.start_tc

    def GetStartFrame(self) -> int:
        record("Timeline", "GetStartFrame")
        return self.start_frame


_PRINTF = re.compile(r"%0(\d+)d")


class MediaPool:
    def __init__(self, timeline: Timeline) -> None:
        self.root = Folder("Master")
        self.current_folder = self.root
        self.timeline = timeline

    def GetRootFolder(self) -> Folder:
        record("MediaPool", "GetRootFolder")
        return self.root

    def AddSubFolder(self, folder: Folder, name: str) -> Folder:
        record("MediaPool", "AddSubFolder", folder, name)
        sub = Folder(name)
        folder.subfolders.append(sub)
        return sub

    def GetCurrentFolder(self) -> Folder:
        record("MediaPool", "GetCurrentFolder")
        return self.current_folder

    def SetCurrentFolder(self, folder: Folder) -> bool:
        record("MediaPool", "SetCurrentFolder", folder)
        self.current_folder = folder
        return True

    def ImportMedia(self, items: list) -> list:
        record("MediaPool", "ImportMedia", items)
        made = []
        for info in items:
            pattern, a, b = info["FilePath"], int(info["StartIndex"]), int(info["EndIndex"])
            m = _PRINTF.search(pattern)
            if not m or any(not os.path.isfile(pattern % n) for n in range(a, b + 1)):
                return []  # Resolve imports nothing it cannot find
            width = int(m.group(1))
            shown = _PRINTF.sub(f"[{a:0{width}d}-{b:0{width}d}]", pattern)
            item = MediaPoolItem(os.path.basename(shown),
                                 {"File Path": shown, "Frames": str(b - a + 1)})
            self.current_folder.clips.append(item)
            made.append(item)
        return made

    def AppendToTimeline(self, clipInfos: list) -> list:
        record("MediaPool", "AppendToTimeline", clipInfos)
        placed = []
        for info in clipInfos:
            track = int(info.get("trackIndex", 1))
            if not 1 <= track <= len(self.timeline.tracks):
                return []
            mpi = info["mediaPoolItem"]
            start, end = int(info["startFrame"]), int(info["endFrame"])
            item = TimelineItem(mpi._name, mpi, int(info["recordFrame"]), end - start + 1, start,
                                track, int(mpi.props.get("Frames", end + 1)))
            self.timeline.tracks[track - 1].append(item)
            placed.append(item)
        return placed


class MediaStorage:
    def AddClipMattesToMediaPool(self, MediaPoolItem: MediaPoolItem, paths: list,
                                 stereoEye: str | None = None) -> bool:
        record("MediaStorage", "AddClipMattesToMediaPool", MediaPoolItem, paths, stereoEye)
        if not paths or not all(os.path.isfile(p) for p in paths):
            return False
        MediaPoolItem.mattes.extend(paths)
        return True


class Project:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.media_pool = MediaPool(timeline)

    def GetMediaPool(self) -> MediaPool:
        record("Project", "GetMediaPool")
        return self.media_pool

    def GetCurrentTimeline(self) -> Timeline:
        record("Project", "GetCurrentTimeline")
        return self.timeline


class ProjectManager:
    def __init__(self, project: Project | None) -> None:
        self.project = project

    def GetCurrentProject(self) -> Project | None:
        record("ProjectManager", "GetCurrentProject")
        return self.project


class Resolve:
    def __init__(self, project: Project | None) -> None:
        self.manager = ProjectManager(project)
        self.storage = MediaStorage()

    def GetProjectManager(self) -> ProjectManager:
        record("Resolve", "GetProjectManager")
        return self.manager

    def GetMediaStorage(self) -> MediaStorage:
        record("Resolve", "GetMediaStorage")
        return self.storage


class App:
    """The ``app`` global of an in-app script."""

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve

    def GetResolve(self) -> Resolve:
        record("app", "GetResolve")
        return self.resolve


class DaVinciResolveScript:
    """The module external (Studio) scripts import; kept for completeness."""

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve

    def scriptapp(self, name: str) -> Any:
        return self.resolve if name == "Resolve" else None


# --- Fusion comps -------------------------------------------------------------

MAIN_INPUT = {"MediaOut": "Input", "Saver": "Input", "MatteControl": "Background"}
"""Where FindMainInput(1) points; readers have none."""


class Output:
    def __init__(self, tool: Tool) -> None:
        self.tool = tool

    def GetTool(self) -> Tool:
        record("Output", "GetTool")
        return self.tool


class Input:
    def __init__(self, tool: Tool, name: str) -> None:
        self.tool, self.name = tool, name

    def GetConnectedOutput(self) -> Output | None:
        record("Input", "GetConnectedOutput")
        src = self.tool.links.get(self.name)
        return Output(src) if src is not None else None


class Tool:
    def __init__(self, comp: Comp, reg_id: str, name: str) -> None:
        self.comp, self.reg_id, self.name = comp, reg_id, name
        self.inputs: dict[str, Any] = {}
        self.links: dict[str, Tool] = {}
        self.attrs: dict[str, Any] = {}
        self.selected = False

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def GetAttrs(self) -> dict:
        record("Tool", "GetAttrs")
        attrs = {"TOOLS_RegID": self.reg_id, "TOOLS_Name": self.name, **self.attrs}
        if self.reg_id == "Loader" and self.inputs.get("Clip"):
            attrs["TOOLST_Clip_Name"] = _table([self.inputs["Clip"]])
        return attrs

    def GetInput(self, id: str, time: float | None = None) -> Any:
        record("Tool", "GetInput", id)
        return self.inputs.get(id)

    def SetInput(self, id: str, value: Any, time: float | None = None) -> None:
        record("Tool", "SetInput", self.name, id, value)
        if self.reg_id == "Loader" and id == "Clip":  # a new clip resets the trims
            for key in ("GlobalIn", "GlobalOut", "ClipTimeStart", "ClipTimeEnd"):
                self.inputs.pop(key, None)
        self.inputs[id] = value

    def ConnectInput(self, id: str, tool: Tool | None) -> bool:
        record("Tool", "ConnectInput", self.name, id, tool.name if tool else None)
        if tool is None:
            self.links.pop(id, None)
        else:
            self.links[id] = tool
        return True

    def FindMainInput(self, index: int) -> Input | None:
        record("Tool", "FindMainInput", index)
        name = MAIN_INPUT.get(self.reg_id, None if self.reg_id in ("Loader", "MediaIn") else "Input")
        return Input(self, name) if name and index == 1 else None


class Comp:
    def __init__(self, render: tuple[int, int] = (0, 100)) -> None:
        self.tools: list[Tool] = []
        self.render = render
        self.CurrentTime = render[0]
        self.locked = 0
        self.undo: list[str] = []

    @classmethod
    def clip_comp(cls, frames: int) -> Comp:
        """What Resolve makes for a timeline item: MediaIn1 → MediaOut1, range 0..frames-1."""
        comp = cls((0, frames - 1))
        media_in = comp._add("MediaIn")
        media_in.inputs.update({"GlobalIn": 0, "GlobalOut": frames - 1})
        comp._add("MediaOut").links["Input"] = media_in
        return comp

    def _add(self, reg_id: str) -> Tool:
        n = 1 + sum(t.reg_id == reg_id for t in self.tools)
        tool = Tool(self, reg_id, f"{reg_id}{n}")
        self.tools.append(tool)
        return tool

    def AddTool(self, id: str, xpos: int = -32768, ypos: int = -32768) -> Tool:
        record("Comp", "AddTool", id)
        return self._add(id)

    def FindTool(self, name: str) -> Tool | None:
        record("Comp", "FindTool", name)
        return next((t for t in self.tools if t.name == name), None)

    def GetToolList(self, selected: bool = False, regid: str | None = None) -> dict:
        record("Comp", "GetToolList", selected)
        return _table([t for t in self.tools if (t.selected or not selected)
                       and (regid is None or t.reg_id == regid)])

    def GetAttrs(self) -> dict:
        record("Comp", "GetAttrs")
        return {"COMPN_RenderStart": float(self.render[0]), "COMPN_RenderEnd": float(self.render[1])}

    def Lock(self) -> None:
        record("Comp", "Lock")
        self.locked += 1

    def Unlock(self) -> None:
        record("Comp", "Unlock")
        self.locked -= 1

    def StartUndo(self, name: str) -> None:
        record("Comp", "StartUndo", name)
        self.undo.append(name)

    def EndUndo(self, keep: bool = True) -> None:
        record("Comp", "EndUndo", keep)


# --- UIManager ----------------------------------------------------------------


class Widget:
    def __init__(self, kind: str, props: dict | None = None, children: list | None = None) -> None:
        props = dict(props or {})
        self.kind, self.ID = kind, props.pop("ID", None)
        self.children = children or []
        self.Text = props.get("Text", "")
        self.PlainText = props.get("PlainText", "")
        self.Enabled = props.get("Enabled", True)
        self.items: list[str] = []
        self._index = -1
        self.window: Window | None = None

    # ComboBox
    @property
    def CurrentIndex(self) -> int:
        return self._index

    @CurrentIndex.setter
    def CurrentIndex(self, value: int) -> None:
        changed = value != self._index
        self._index = value
        if changed and self.window is not None:
            self.window.fire(self.ID, "CurrentIndexChanged")

    @property
    def CurrentText(self) -> str:
        return self.items[self._index] if 0 <= self._index < len(self.items) else ""

    @CurrentText.setter
    def CurrentText(self, value: str) -> None:
        self.CurrentIndex = self.items.index(value)

    def AddItem(self, text: str) -> None:
        self.items.append(str(text))
        if self._index < 0:
            self.CurrentIndex = 0

    def Clear(self) -> None:
        self.items = []
        self.CurrentIndex = -1


class _Handlers:
    """``win.On.<ID>``: event name → handler."""

    def __init__(self) -> None:
        object.__setattr__(self, "handlers", {})

    def __setattr__(self, event: str, fn: Any) -> None:
        self.handlers[event] = fn


class _On:
    def __init__(self) -> None:
        object.__setattr__(self, "ids", {})

    def __getattr__(self, id_: str) -> _Handlers:
        return self.ids.setdefault(id_, _Handlers())

    def __setattr__(self, event: str, fn: Any) -> None:  # disp.On.Timeout = fn
        self.__getattr__("")
        self.ids[""].handlers[event] = fn


class Window:
    def __init__(self, props: dict, child: Widget) -> None:
        self.ID = props.get("ID")
        self.props = props
        self.On = _On()
        self.visible = False
        self._items: dict[str, Widget] = {}
        self._collect(child)

    def _collect(self, w: Widget) -> None:
        w.window = self
        if w.ID:
            self._items[w.ID] = w
        for c in w.children:
            self._collect(c)

    def GetItems(self) -> dict:
        return dict(self._items)

    def Show(self) -> None:
        self.visible = True

    def Hide(self) -> None:
        self.visible = False

    def fire(self, id_: str, event: str) -> None:
        handlers = self.On.ids.get(id_)
        fn = handlers.handlers.get(event) if handlers else None
        if fn is not None:
            fn({"who": id_, "what": event, "window": self.ID})

    # --- test helpers (what the artist does) ---
    def click(self, id_: str) -> None:
        self.fire(id_, "Clicked")

    def close(self) -> None:
        self.fire(self.ID, "Close")


class Timer:
    def __init__(self, props: dict) -> None:
        self.ID, self.Interval = props.get("ID"), props.get("Interval", 1000)
        self.running = False

    def Start(self) -> None:
        self.running = True

    def Stop(self) -> None:
        self.running = False


class UIManager:
    def __init__(self) -> None:
        self.timers: list[Timer] = []

    def _w(kind: str):  # noqa: N805 - builds the widget factories below
        def make(self, props: Any = None, children: list | None = None) -> Widget:
            if isinstance(props, list):  # ui.VGroup([children])
                props, children = {}, props
            return Widget(kind, props, children)
        return make

    VGroup = _w("VGroup")
    HGroup = _w("HGroup")
    Label = _w("Label")
    Button = _w("Button")
    ComboBox = _w("ComboBox")
    LineEdit = _w("LineEdit")
    TextEdit = _w("TextEdit")

    def Timer(self, props: dict) -> Timer:
        timer = Timer(props)
        self.timers.append(timer)
        return timer


class UIDispatcher:
    """Runs the loop: fires running timers' ``disp.On.Timeout``, then steps ``driver``.

    ``driver(window)`` is a generator the test supplies: it plays the artist
    (clicks, typing) and yields while it waits; the loop ends on ExitLoop, or
    with an AssertionError after ``deadline_s`` (a hang, never a speed check).
    """

    driver: Any = None
    deadline_s = 120.0

    def __init__(self, ui: UIManager) -> None:
        self.ui = ui
        self.On = _On()
        self.windows: list[Window] = []
        self._running = False

    def AddWindow(self, props: dict, child: Widget) -> Window:
        win = Window(props, child)
        self.windows.append(win)
        return win

    def ExitLoop(self) -> None:
        self._running = False

    def RunLoop(self) -> None:
        self._running = True
        steps = self.driver(self.windows[-1]) if self.driver else None
        deadline = time.monotonic() + self.deadline_s
        while self._running:
            if time.monotonic() > deadline:
                raise AssertionError("the script's window did not close in time")
            timeout = self.On.ids.get("", _Handlers()).handlers.get("Timeout")
            for timer in self.ui.timers:
                if timer.running and timeout is not None:
                    timeout({"who": timer.ID, "what": "Timeout"})
            if steps is not None:
                try:
                    next(steps)
                except StopIteration:
                    steps = None
            time.sleep(0.02)


class Fusion:
    """The ``fu`` / ``fusion`` global."""

    def __init__(self, resolve: Resolve | None = None, comp: Comp | None = None) -> None:
        self.UIManager = UIManager()
        self.resolve, self.comp = resolve, comp

    def GetResolve(self) -> Resolve | None:
        record("fusion", "GetResolve")
        return self.resolve

    def GetCurrentComp(self) -> Comp | None:
        record("fusion", "GetCurrentComp")
        return self.comp


class Bmd:
    """The ``bmd`` global (BlackmagicFusion module); ``driver`` plays the artist (tests)."""

    def __init__(self, driver: Any = None) -> None:
        self.driver = driver
        self.dispatchers: list[UIDispatcher] = []

    def UIDispatcher(self, ui: UIManager) -> UIDispatcher:
        disp = UIDispatcher(ui)
        disp.driver = self.driver
        self.dispatchers.append(disp)
        return disp
