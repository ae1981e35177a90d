"""A strict, plural fake of DaVinci Resolve's and Fusion's scripting API.

**Strict.** Every method here follows one documented call and says where it is
documented (``@readme(section, what it says)``): Blackmagic's scripting README
(``Developer/Scripting/README.txt``, "Basic Resolve API"; facts in
/work/shared/HOSTS.md) for the Resolve objects, the Fusion Scripting Guide for
comps and tools, and the UIManager examples for the window. Any other
attribute raises :class:`Undocumented`, and so do documented calls used
outside what the README allows (``GetCurrentTimecode`` off the Cut, Edit,
Color, Fairlight and Deliver pages; ``GetFusionCompByIndex(i)`` beyond
``GetFusionCompCount()``).

**Plural.** Where the README is silent, :class:`Reading` holds one plausible
answer per open question and the fake behaves by the current :data:`READING`:

- ``append_start``: AppendToTimeline's startFrame/endFrame count from 0 (the
  clip's first frame) or from the clip's first file number ("Start").
- ``append_end``: endFrame is inclusive or exclusive.
- ``source_base``: GetSourceStartFrame counts from 0 or from the clip's "Start".
- ``mattes``: AddClipMattesToMediaPool with N frame files makes one matte
  ("one"), or N still mattes while one ``name.[a-b].ext`` path makes one
  sequence matte ("stills"), or N stills and refuses ``[a-b]`` ("stills_only").
- ``comps``: a timeline item starts with no Fusion comp ("none") or with one
  (Resolve makes one when the item is opened on the Fusion page: "one").

Tests run the scripts under every reading and expect the right result under
each: the scripts must read back what Resolve did and correct, or stop with a
clear message. Facts the fake keeps for the tests (track contents, mattes) are
plain attributes; the scripts only see the documented calls.

Every call is appended to ``CALLS`` (object kind, method, args).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

CALLS: list[tuple[str, str, tuple]] = []
README = "README"
GUIDE = "Fusion Scripting Guide"
UI = "UIManager examples"


class Undocumented(AssertionError):
    """The scripts made a call the documentation does not have (or outside what it allows)."""


def readme(section: str, says: str):
    """Mark a fake method with the documented call it follows (a test checks every one has it)."""

    def mark(fn):
        fn.__readme__ = (section, says)
        return fn

    return mark


class Strict:
    """Anything not defined here is not documented: raise, never guess."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise Undocumented(f"{type(self).__name__}.{name} is not a documented call")


@dataclass(frozen=True)
class Reading:
    append_start: str = "zero"
    append_end: str = "inclusive"
    source_base: str = "zero"
    mattes: str = "one"
    comps: str = "none"

    def __str__(self) -> str:
        return (f"start-{self.append_start}/end-{self.append_end}/ssf-{self.source_base}/"
                f"mattes-{self.mattes}/comps-{self.comps}")


AXES = {"append_start": ("zero", "file"), "append_end": ("inclusive", "exclusive"),
        "source_base": ("zero", "clip"), "mattes": ("one", "stills", "stills_only"),
        "comps": ("none", "one")}
READING = Reading()


def readings(*axes: str) -> list[Reading]:
    """Every combination of the named axes (the others at their first value)."""
    return [replace(Reading(), **dict(zip(axes, values, strict=True)))
            for values in product(*(AXES[a] for a in axes))]


def use(reading: Reading) -> None:
    global READING
    READING = reading


def record(kind: str, method: str, *args: Any) -> None:
    CALLS.append((kind, method, args))


def calls(method: str) -> list[tuple]:
    """Args of every recorded call to ``method``."""
    return [args for _, m, args in CALLS if m == method]


def _table(items: list) -> dict:
    """Fusion hands tables to Python as dicts keyed 1..n."""
    return {i + 1: v for i, v in enumerate(items)}


# --- timecode (the fake's own counting: labels enumerated minute by minute) ----


def _rate(text: str) -> tuple[float, int, bool]:
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(DF)?\s*$", text)
    assert m, text
    fps = float(m.group(1))
    return fps, int(round(fps)), bool(m.group(2))


def _label(frames: int, nominal: int, drop: bool) -> str:
    """The timecode label of the ``frames``-th frame since 00:00:00:00."""
    skipped = nominal // 15 if drop else 0
    minute = 0
    while True:
        in_minute = nominal * 60 - (skipped if minute % 10 else 0)
        if frames < in_minute:
            break
        frames -= in_minute
        minute += 1
    if minute % 10:
        frames += skipped  # labels 0..skipped-1 of this minute do not exist
    h, mi = divmod(minute, 60)
    s, f = divmod(frames, nominal)
    return f"{h:02d}:{mi:02d}:{s:02d}{';' if drop else ':'}{f:02d}"


# --- Resolve ------------------------------------------------------------------

TIMECODE_PAGES = ("cut", "edit", "color", "fairlight", "deliver")
_RANGE = re.compile(r"\[(\d+)-(\d+)\]")


class MediaPoolItem(Strict):
    def __init__(self, name: str, props: dict[str, Any]) -> None:
        self._name, self.props = name, dict(props)
        self.mattes: list[str] = []

    @readme(README, "MediaPoolItem.GetName() Returns the clip name.")
    def GetName(self) -> str:
        record("MediaPoolItem", "GetName")
        return self._name

    @readme(README, "GetClipProperty(propertyName=None) Returns the property value for the key "
                    "'propertyName'. If no argument is specified, a dict of all clip properties "
                    "is returned.")
    def GetClipProperty(self, propertyName: str | None = None) -> Any:
        record("MediaPoolItem", "GetClipProperty", propertyName)
        if propertyName is None:
            return {k: str(v) for k, v in self.props.items()}
        return str(self.props.get(propertyName, ""))

    @readme(README, "SetClipProperty(propertyName, propertyValue) Sets the given property to "
                    "propertyValue (string).")
    def SetClipProperty(self, propertyName: str, propertyValue: str) -> bool:
        record("MediaPoolItem", "SetClipProperty", propertyName, propertyValue)
        self.props[propertyName] = str(propertyValue)
        return True

    @property
    def first_number(self) -> int:
        return int(self.props.get("Start", 0))

    @property
    def frames(self) -> int:
        return int(self.props["Frames"])

    @property
    def fps(self) -> float | None:
        return float(self.props["FPS"]) if self.props.get("FPS") else None


class Folder(Strict):
    def __init__(self, name: str) -> None:
        self.name, self.subfolders, self.clips = name, [], []

    @readme(README, "Folder.GetName() Returns the media folder name.")
    def GetName(self) -> str:
        record("Folder", "GetName")
        return self.name

    @readme(README, "Folder.GetSubFolderList() Returns a list of subfolders in the folder.")
    def GetSubFolderList(self) -> list:
        record("Folder", "GetSubFolderList")
        return list(self.subfolders)

    @readme(README, "Folder.GetClipList() Returns a list of clips (items) within the folder.")
    def GetClipList(self) -> list:
        record("Folder", "GetClipList")
        return list(self.clips)


class TimelineItem(Strict):
    """``left_offset``/``count`` are the truth in the clip's own frames (0 = its first)."""

    def __init__(self, name: str, media: MediaPoolItem | None, start: int, duration: int,
                 left_offset: int, track: int, media_frames: int, scale: float = 1.0) -> None:
        self.name, self.media = name, media
        self.start, self.duration, self.left_offset, self.track = start, duration, left_offset, track
        self.media_frames = media_frames
        self.scale = scale
        """Clip fps / timeline fps (1 on a same-rate timeline)."""
        self.comps: list[Comp] = [Comp.clip_comp(duration)] if READING.comps == "one" else []

    @property
    def count(self) -> int:
        """Source frames shown."""
        return int(round(self.duration * self.scale))

    def _base(self) -> int:
        if READING.source_base == "clip" and self.media is not None:
            return self.media.first_number
        return 0

    @readme(README, "TimelineItem.GetName() Returns the item name.")
    def GetName(self) -> str:
        record("TimelineItem", "GetName")
        return self.name

    @readme(README, "GetStart() Returns the start frame position on the timeline.")
    def GetStart(self) -> int:
        record("TimelineItem", "GetStart")
        return self.start

    @readme(README, "GetEnd() Returns the end frame position on the timeline.")
    def GetEnd(self) -> int:
        record("TimelineItem", "GetEnd")
        return self.start + self.duration

    @readme(README, "GetDuration() Returns the item duration.")
    def GetDuration(self) -> int:
        record("TimelineItem", "GetDuration")
        return self.duration

    @readme(README, "GetLeftOffset() Returns the maximum extension by frame for clip from left side.")
    def GetLeftOffset(self) -> int:
        record("TimelineItem", "GetLeftOffset")
        return int(round(self.left_offset / self.scale))

    @readme(README, "GetRightOffset() Returns the maximum extension by frame for clip from right "
                    "side.")
    def GetRightOffset(self) -> int:
        record("TimelineItem", "GetRightOffset")
        return int(round((self.media_frames - self.left_offset - self.count) / self.scale))

    @readme(README, "GetSourceStartFrame() Returns the start frame position of the media pool "
                    "clip in the timeline clip (base not stated: Reading.source_base).")
    def GetSourceStartFrame(self) -> int:
        record("TimelineItem", "GetSourceStartFrame")
        return self._base() + self.left_offset

    @readme(README, "GetSourceEndFrame() Returns the end frame position of the media pool clip in "
                    "the timeline clip.")
    def GetSourceEndFrame(self) -> int:
        record("TimelineItem", "GetSourceEndFrame")
        return self._base() + self.left_offset + self.count - 1

    @readme(README, "GetTrackTypeAndIndex() Returns a list of two values that correspond to the "
                    "TimelineItem's trackType (string) and trackIndex (int).")
    def GetTrackTypeAndIndex(self) -> list:
        record("TimelineItem", "GetTrackTypeAndIndex")
        return ["video", self.track]

    @readme(README, "GetMediaPoolItem() Returns the media pool item corresponding to the timeline "
                    "item if one exists.")
    def GetMediaPoolItem(self) -> MediaPoolItem | None:
        record("TimelineItem", "GetMediaPoolItem")
        return self.media

    @readme(README, "GetFusionCompCount() Returns number of Fusion compositions associated with "
                    "the timeline item.")
    def GetFusionCompCount(self) -> int:
        record("TimelineItem", "GetFusionCompCount")
        return len(self.comps)

    @readme(README, "GetFusionCompByIndex(compIndex) Returns the Fusion composition object based "
                    "on given index. 1 <= compIndex <= timelineItem.GetFusionCompCount()")
    def GetFusionCompByIndex(self, compIndex: int) -> Comp:
        record("TimelineItem", "GetFusionCompByIndex", compIndex)
        if not 1 <= compIndex <= len(self.comps):
            raise Undocumented(f"GetFusionCompByIndex({compIndex}) with {len(self.comps)} comps: "
                               "the README allows 1 <= compIndex <= GetFusionCompCount()")
        return self.comps[compIndex - 1]

    @readme(README, "AddFusionComp() Adds a new Fusion composition associated with timeline item.")
    def AddFusionComp(self) -> Comp:
        record("TimelineItem", "AddFusionComp")
        comp = Comp.clip_comp(self.duration)
        self.comps.append(comp)
        return comp


class Timeline(Strict):
    def __init__(self, name: str, fps: Any = 24, start_frame: int = 86400,
                 start_tc: str | None = None) -> None:
        self.name, self.rate_text, self.start_frame = name, str(fps), start_frame
        _, self.nominal, self.drop = _rate(self.rate_text)
        self.start_tc = start_tc or _label(start_frame, self.nominal, self.drop)
        self.tracks: list[list[TimelineItem]] = [[]]
        self.playhead = start_frame
        self.current: TimelineItem | None = None
        self.resolve: Resolve | None = None
        self.resolution: tuple[int, int] | None = None
        """timelineResolutionWidth/Height (None: Resolve says nothing, "")."""

    @property
    def fps(self) -> float:
        return _rate(self.rate_text)[0]

    @readme(README, "Timeline.GetName() Returns the timeline name.")
    def GetName(self) -> str:
        record("Timeline", "GetName")
        return self.name

    @readme(README, "GetCurrentVideoItem() Returns the current video timeline item.")
    def GetCurrentVideoItem(self) -> TimelineItem | None:
        record("Timeline", "GetCurrentVideoItem")
        return self.current

    @readme(README, "AddTrack(trackType, optionalSubTrackType) Adds track of trackType "
                    "(\"video\", \"subtitle\", \"audio\"). Returns True if successful.")
    def AddTrack(self, trackType: str, optionalSubTrackType: str | None = None) -> bool:
        record("Timeline", "AddTrack", trackType)
        if trackType != "video":
            return False
        self.tracks.append([])
        return True

    @readme(README, "DeleteTrack(trackType, trackIndex) Deletes track of trackType and index. "
                    "1 <= trackIndex <= GetTrackCount(trackType).")
    def DeleteTrack(self, trackType: str, trackIndex: int) -> bool:
        record("Timeline", "DeleteTrack", trackType, trackIndex)
        if trackType != "video" or not 1 <= trackIndex <= len(self.tracks):
            return False
        del self.tracks[trackIndex - 1]
        return True

    @readme(README, "DeleteClips([timelineItems], Bool) Deletes specified TimelineItems from the "
                    "timeline, performing ripple delete if the second argument is True.")
    def DeleteClips(self, timelineItems: list, ripple: bool = False) -> bool:
        record("Timeline", "DeleteClips", list(timelineItems), ripple)
        for track in self.tracks:
            track[:] = [i for i in track if i not in timelineItems]
        return True

    @readme(README, "GetTrackCount(trackType) Returns the number of tracks for the given track "
                    "type (\"audio\", \"video\" or \"subtitle\").")
    def GetTrackCount(self, trackType: str) -> int:
        record("Timeline", "GetTrackCount", trackType)
        return len(self.tracks) if trackType == "video" else 0

    @readme(README, "GetItemListInTrack(trackType, index) Returns a list of timeline items on "
                    "that track (based on trackType). 1 <= index <= GetTrackCount(trackType).")
    def GetItemListInTrack(self, trackType: str, index: int) -> list:
        record("Timeline", "GetItemListInTrack", trackType, index)
        return list(self.tracks[index - 1]) if trackType == "video" else []

    @readme(README, "GetSetting(settingName) Returns value of timeline setting (indicated by "
                    "settingName : string).")
    def GetSetting(self, settingName: str = "") -> str:
        record("Timeline", "GetSetting", settingName)
        if settingName == "timelineFrameRate":
            return self.rate_text
        if self.resolution is not None and settingName in ("timelineResolutionWidth",
                                                           "timelineResolutionHeight"):
            return str(self.resolution[settingName.endswith("Height")])
        return ""

    @readme(README, "GetCurrentTimecode() Returns a string timecode representation for the "
                    "current playhead position, while on Cut, Edit, Color, Fairlight and Deliver "
                    "pages.")
    def GetCurrentTimecode(self) -> str:
        record("Timeline", "GetCurrentTimecode")
        page = self.resolve.page if self.resolve else "edit"
        if page not in TIMECODE_PAGES:
            raise Undocumented(f"GetCurrentTimecode on the {page} page is not documented")
        return _label(self.playhead, self.nominal, self.drop)

    @readme(README, "GetStartTimecode() Returns the start timecode for the timeline.")
    def GetStartTimecode(self) -> str:
        record("Timeline", "GetStartTimecode")
        return self.start_tc

    @readme(README, "GetStartFrame() Returns the frame number at the start of timeline.")
    def GetStartFrame(self) -> int:
        record("Timeline", "GetStartFrame")
        return self.start_frame


_PRINTF = re.compile(r"%0(\d+)d")


def _range_files(path: str) -> list[str] | None:
    """``/x/m.[0003-0008].exr`` → its existing files, or None."""
    m = _RANGE.search(os.path.basename(path))
    if not m:
        return None
    width = len(m.group(1))
    files = [os.path.join(os.path.dirname(path), _RANGE.sub(f"{n:0{width}d}", os.path.basename(path)))
             for n in range(int(m.group(1)), int(m.group(2)) + 1)]
    return files if all(os.path.isfile(f) for f in files) else None


class MediaPool(Strict):
    def __init__(self, project: Project) -> None:
        self.root = Folder("Master")
        self.current_folder = self.root
        self.project = project

    @property
    def timeline(self) -> Timeline:
        return self.project.timeline

    @readme(README, "GetRootFolder() Returns root Folder of Media Pool.")
    def GetRootFolder(self) -> Folder:
        record("MediaPool", "GetRootFolder")
        return self.root

    @readme(README, "AddSubFolder(folder, name) Adds new subfolder under specified Folder object "
                    "with the given name.")
    def AddSubFolder(self, folder: Folder, name: str) -> Folder:
        record("MediaPool", "AddSubFolder", folder, name)
        sub = Folder(name)
        folder.subfolders.append(sub)
        return sub

    @readme(README, "GetCurrentFolder() Returns currently selected Folder.")
    def GetCurrentFolder(self) -> Folder:
        record("MediaPool", "GetCurrentFolder")
        return self.current_folder

    @readme(README, "SetCurrentFolder(Folder) Sets current folder by given Folder.")
    def SetCurrentFolder(self, folder: Folder) -> bool:
        record("MediaPool", "SetCurrentFolder", folder)
        self.current_folder = folder
        return True

    @readme(README, "CreateEmptyTimeline(name) Adds new timeline with given name.")
    def CreateEmptyTimeline(self, name: str) -> Timeline:
        record("MediaPool", "CreateEmptyTimeline", name)
        tl = Timeline(name, self.timeline.rate_text, self.timeline.start_frame)
        tl.resolve = self.timeline.resolve
        self.project.timelines.append(tl)
        return tl

    @readme(README, "DeleteTimelines([timeline]) Deletes specified timelines in the media pool.")
    def DeleteTimelines(self, timelines: list) -> bool:
        record("MediaPool", "DeleteTimelines", list(timelines))
        self.project.timelines = [t for t in self.project.timelines if t not in timelines]
        return True

    @readme(README, "ImportMedia([{clipInfo}]) Imports file path(s) into current Media Pool folder "
                    "as specified in list of clipInfo dict. Returns a list of the MediaPoolItems "
                    "created. ImportMedia([{\"FilePath\":\"file_%03d.dpx\", \"StartIndex\":1, "
                    "\"EndIndex\":100}]) would import clip \"file_[001-100].dpx\".")
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
            item = MediaPoolItem(os.path.basename(shown), {
                "File Path": shown, "Frames": b - a + 1, "Start": a, "End": b,
                "FPS": self.timeline.rate_text.split()[0]})
            self.current_folder.clips.append(item)
            made.append(item)
        return made

    @readme(README, "AppendToTimeline([{clipInfo}, ...]) Appends list of clipInfos specified as "
                    "dict of \"mediaPoolItem\", \"startFrame\" (int), \"endFrame\" (int), "
                    "(optional) \"mediaType\" (int; 1 - Video only, 2 - Audio only), "
                    "\"trackIndex\" (int) and \"recordFrame\" (int). Returns the list of appended "
                    "timelineItems. (Base and end: Reading.append_start / append_end.)")
    def AppendToTimeline(self, clipInfos: list) -> list:
        record("MediaPool", "AppendToTimeline", clipInfos)
        timeline = self.project.timeline
        placed = []
        for info in clipInfos:
            track = int(info.get("trackIndex", 1))
            if not 1 <= track <= len(timeline.tracks):
                return []
            mpi = info["mediaPoolItem"]
            start, end = int(info["startFrame"]), int(info["endFrame"])
            if READING.append_start == "file":
                start, end = start - mpi.first_number, end - mpi.first_number
            count = end - start + (1 if READING.append_end == "inclusive" else 0)
            if start < 0 or count <= 0 or start + count > mpi.frames:
                return []  # frames the clip does not have
            scale = (mpi.fps or timeline.fps) / timeline.fps
            item = TimelineItem(mpi._name, mpi, int(info["recordFrame"]),
                                int(round(count / scale)), start, track, mpi.frames, scale)
            timeline.tracks[track - 1].append(item)
            placed.append(item)
        return placed

    @readme(README, "GetClipMatteList(MediaPoolItem) Get mattes for specified MediaPoolItem, as "
                    "a list of paths to the matte files.")
    def GetClipMatteList(self, item: MediaPoolItem) -> list:
        record("MediaPool", "GetClipMatteList", item)
        return list(item.mattes)

    @readme(README, "DeleteClipMattes(MediaPoolItem, [paths]) Delete mattes based on their file "
                    "paths, for specified MediaPoolItem. Returns True on success.")
    def DeleteClipMattes(self, item: MediaPoolItem, paths: list) -> bool:
        record("MediaPool", "DeleteClipMattes", item, list(paths))
        item.mattes = [p for p in item.mattes if p not in paths]
        return True


class MediaStorage(Strict):
    @readme(README, "AddClipMattesToMediaPool(MediaPoolItem, [paths], stereoEye) Adds specified "
                    "media files as mattes for the specified MediaPoolItem. Returns True if "
                    "successful. (One matte or N stills: Reading.mattes.)")
    def AddClipMattesToMediaPool(self, MediaPoolItem: MediaPoolItem, paths: list,
                                 stereoEye: str | None = None) -> bool:
        record("MediaStorage", "AddClipMattesToMediaPool", MediaPoolItem, list(paths), stereoEye)
        ranged = [p for p in paths if _RANGE.search(os.path.basename(p))]
        plain = [p for p in paths if p not in ranged]
        if not paths or not all(os.path.isfile(p) for p in plain):
            return False
        if ranged and (READING.mattes != "stills" or any(_range_files(p) is None for p in ranged)):
            return False
        if READING.mattes == "one":
            MediaPoolItem.mattes.append(paths[0])
        else:
            MediaPoolItem.mattes.extend(paths)
        return True


class Project(Strict):
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.timelines = [timeline]
        self.media_pool = MediaPool(self)

    @readme(README, "Project.GetMediaPool() Returns the Media Pool object.")
    def GetMediaPool(self) -> MediaPool:
        record("Project", "GetMediaPool")
        return self.media_pool

    @readme(README, "GetCurrentTimeline() Returns the currently loaded timeline.")
    def GetCurrentTimeline(self) -> Timeline:
        record("Project", "GetCurrentTimeline")
        return self.timeline

    @readme(README, "SetCurrentTimeline(timeline) Sets given timeline as current timeline for the "
                    "project. Returns True if successful.")
    def SetCurrentTimeline(self, timeline: Timeline) -> bool:
        record("Project", "SetCurrentTimeline", timeline)
        if timeline not in self.timelines:
            return False
        self.timeline = timeline
        return True


class ProjectManager(Strict):
    def __init__(self, project: Project | None) -> None:
        self.project = project

    @readme(README, "GetCurrentProject() Returns the currently loaded Resolve project.")
    def GetCurrentProject(self) -> Project | None:
        record("ProjectManager", "GetCurrentProject")
        return self.project


class Resolve(Strict):
    def __init__(self, project: Project | None, page: str = "edit") -> None:
        self.manager = ProjectManager(project)
        self.storage = MediaStorage()
        self.page = page
        if project is not None:
            project.timeline.resolve = self

    @readme(README, "GetProjectManager() Returns the ProjectManager object.")
    def GetProjectManager(self) -> ProjectManager:
        record("Resolve", "GetProjectManager")
        return self.manager

    @readme(README, "GetMediaStorage() Returns the MediaStorage object.")
    def GetMediaStorage(self) -> MediaStorage:
        record("Resolve", "GetMediaStorage")
        return self.storage

    @readme(README, "GetCurrentPage() Returns the page currently displayed in the main window. "
                    "Returned value can be one of (\"media\", \"cut\", \"edit\", \"fusion\", "
                    "\"color\", \"fairlight\", \"deliver\", None).")
    def GetCurrentPage(self) -> str | None:
        record("Resolve", "GetCurrentPage")
        return self.page

    @readme(README, "GetVersionString() Returns product version in \"major.minor.patch[.build]\" "
                    "format.")
    def GetVersionString(self) -> str:
        record("Resolve", "GetVersionString")
        return "20.2.0 (fake)"


class App(Strict):
    """The ``app`` global of an in-app script."""

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve

    @readme(README, "app.GetResolve(): the Resolve object, in scripts Resolve runs.")
    def GetResolve(self) -> Resolve:
        record("app", "GetResolve")
        return self.resolve


# --- Fusion comps -------------------------------------------------------------

MAIN_INPUT = {"MediaOut": "Input", "Saver": "Input", "MatteControl": "Background"}
"""Where FindMainInput(1) points; readers have none."""


class Output(Strict):
    def __init__(self, tool: Tool) -> None:
        self.tool = tool

    @readme(GUIDE, "Output.GetTool()")
    def GetTool(self) -> Tool:
        record("Output", "GetTool")
        return self.tool


class Input(Strict):
    def __init__(self, tool: Tool, name: str) -> None:
        self.tool, self.name = tool, name

    @readme(GUIDE, "Input.GetConnectedOutput()")
    def GetConnectedOutput(self) -> Output | None:
        record("Input", "GetConnectedOutput")
        src = self.tool.links.get(self.name)
        return Output(src) if src is not None else None


class Tool(Strict):
    def __init__(self, comp: Comp, reg_id: str, name: str) -> None:
        self.comp, self.reg_id, self.name = comp, reg_id, name
        self.inputs: dict[str, Any] = {}
        self.links: dict[str, Tool] = {}
        self.attrs: dict[str, Any] = {}
        self.selected = False

    def __repr__(self) -> str:
        return f"<{self.name}>"

    @readme(GUIDE, "Tool.GetAttrs()")
    def GetAttrs(self) -> dict:
        record("Tool", "GetAttrs")
        attrs = {"TOOLS_RegID": self.reg_id, "TOOLS_Name": self.name, **self.attrs}
        if self.reg_id == "Loader" and self.inputs.get("Clip"):
            attrs["TOOLST_Clip_Name"] = _table([self.inputs["Clip"]])
        return attrs

    @readme(GUIDE, "Tool.GetInput(id, time)")
    def GetInput(self, id: str, time: float | None = None) -> Any:
        record("Tool", "GetInput", id)
        return self.inputs.get(id)

    @readme(GUIDE, "Tool.SetInput(id, value, time)")
    def SetInput(self, id: str, value: Any, time: float | None = None) -> None:
        record("Tool", "SetInput", self.name, id, value)
        if self.reg_id == "Loader" and id == "Clip":  # a new clip resets the trims
            for key in ("GlobalIn", "GlobalOut", "ClipTimeStart", "ClipTimeEnd"):
                self.inputs.pop(key, None)
        self.inputs[id] = value

    @readme(GUIDE, "Tool.SetAttrs(attrs)")
    def SetAttrs(self, attrs: dict) -> bool:
        record("Tool", "SetAttrs", dict(attrs))
        if "TOOLS_Name" in attrs:
            self.name = attrs["TOOLS_Name"]
        return True

    @readme(GUIDE, "Tool.Delete()")
    def Delete(self) -> None:
        record("Tool", "Delete", self.name)
        self.comp.tools.remove(self)
        for tool in self.comp.tools:
            tool.links = {k: v for k, v in tool.links.items() if v is not self}

    @readme(GUIDE, "Tool.ConnectInput(id, tool)")
    def ConnectInput(self, id: str, tool: Tool | None) -> bool:
        record("Tool", "ConnectInput", self.name, id, tool.name if tool else None)
        if tool is None:
            self.links.pop(id, None)
        else:
            self.links[id] = tool
        return True

    @readme(GUIDE, "Tool.FindMainInput(index)")
    def FindMainInput(self, index: int) -> Input | None:
        record("Tool", "FindMainInput", index)
        name = MAIN_INPUT.get(self.reg_id, None if self.reg_id in ("Loader", "MediaIn") else "Input")
        return Input(self, name) if name and index == 1 else None


class Comp(Strict):
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

    @readme(GUIDE, "Comp.AddTool(id, xpos, ypos)")
    def AddTool(self, id: str, xpos: int = -32768, ypos: int = -32768) -> Tool:
        record("Comp", "AddTool", id)
        return self._add(id)

    @readme(GUIDE, "Comp.FindTool(name)")
    def FindTool(self, name: str) -> Tool | None:
        record("Comp", "FindTool", name)
        return next((t for t in self.tools if t.name == name), None)

    @readme(GUIDE, "Comp.GetToolList(selected, regid)")
    def GetToolList(self, selected: bool = False, regid: str | None = None) -> dict:
        record("Comp", "GetToolList", selected)
        return _table([t for t in self.tools if (t.selected or not selected)
                       and (regid is None or t.reg_id == regid)])

    @readme(GUIDE, "Comp.GetAttrs()")
    def GetAttrs(self) -> dict:
        record("Comp", "GetAttrs")
        return {"COMPN_RenderStart": float(self.render[0]), "COMPN_RenderEnd": float(self.render[1])}

    @readme(GUIDE, "Composition.Paste(settings): pastes a tool from the clipboard or a "
                   "settings table")
    def Paste(self, settings: dict | None = None) -> bool:
        """Adds every tool of the table's ``Tools`` under its name (Fusion renames a taken
        name; the fake appends ``_1``) with its ``Inputs``; the table stays on ``.setting``."""
        record("Comp", "Paste", sorted((settings or {}).get("Tools", {})))
        if not settings or "Tools" not in settings:
            return False
        for name, table in settings["Tools"].items():
            while any(t.name == name for t in self.tools):
                name = f"{name}_1"
            tool = Tool(self, getattr(table, "type", "") or "Tool", name)
            tool.inputs.update(table.get("Inputs", {}) if isinstance(table, dict) else {})
            tool.setting = table
            self.tools.append(tool)
        return True

    @readme(GUIDE, "Comp.Lock()")
    def Lock(self) -> None:
        record("Comp", "Lock")
        self.locked += 1

    @readme(GUIDE, "Comp.Unlock()")
    def Unlock(self) -> None:
        record("Comp", "Unlock")
        self.locked -= 1

    @readme(GUIDE, "Comp.StartUndo(name)")
    def StartUndo(self, name: str) -> None:
        record("Comp", "StartUndo", name)
        self.undo.append(name)

    @readme(GUIDE, "Comp.EndUndo(keep)")
    def EndUndo(self, keep: bool = True) -> None:
        record("Comp", "EndUndo", keep)


# --- UIManager ----------------------------------------------------------------


class Widget(Strict):
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
    @readme(UI, "Widget.CurrentIndex()")
    def CurrentIndex(self) -> int:
        return self._index

    @CurrentIndex.setter
    @readme(UI, "Widget.CurrentIndex(value)")
    def CurrentIndex(self, value: int) -> None:
        changed = value != self._index
        self._index = value
        if changed and self.window is not None:
            self.window.fire(self.ID, "CurrentIndexChanged")

    @property
    @readme(UI, "Widget.CurrentText()")
    def CurrentText(self) -> str:
        return self.items[self._index] if 0 <= self._index < len(self.items) else ""

    @CurrentText.setter
    @readme(UI, "Widget.CurrentText(value)")
    def CurrentText(self, value: str) -> None:
        self.CurrentIndex = self.items.index(value)

    @readme(UI, "Widget.AddItem(text)")
    def AddItem(self, text: str) -> None:
        self.items.append(str(text))
        if self._index < 0:
            self.CurrentIndex = 0

    @readme(UI, "Widget.Clear()")
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


class Window(Strict):
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

    @readme(UI, "Window.GetItems()")
    def GetItems(self) -> dict:
        return dict(self._items)

    @readme(UI, "Window.Show()")
    def Show(self) -> None:
        self.visible = True

    @readme(UI, "Window.Hide()")
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


class Timer(Strict):
    def __init__(self, props: dict) -> None:
        self.ID, self.Interval = props.get("ID"), props.get("Interval", 1000)
        self.running = False

    @readme(UI, "Timer.Start()")
    def Start(self) -> None:
        self.running = True

    @readme(UI, "Timer.Stop()")
    def Stop(self) -> None:
        self.running = False


class UIManager(Strict):
    def __init__(self) -> None:
        self.timers: list[Timer] = []

    def _w(kind: str):  # noqa: N805 - builds the widget factories below
        def make(self, props: Any = None, children: list | None = None) -> Widget:
            if isinstance(props, list):  # ui.VGroup([children])
                props, children = {}, props
            return Widget(kind, props, children)
        make.__readme__ = (UI, f"ui.{kind}(props, [children])")
        return make

    VGroup = _w("VGroup")
    HGroup = _w("HGroup")
    Label = _w("Label")
    Button = _w("Button")
    ComboBox = _w("ComboBox")
    LineEdit = _w("LineEdit")
    TextEdit = _w("TextEdit")

    @readme(UI, "UIManager.Timer(props)")
    def Timer(self, props: dict) -> Timer:
        timer = Timer(props)
        self.timers.append(timer)
        return timer


class UIDispatcher(Strict):
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

    @readme(UI, "UIDispatcher.AddWindow(props, child)")
    def AddWindow(self, props: dict, child: Widget) -> Window:
        win = Window(props, child)
        self.windows.append(win)
        return win

    @readme(UI, "UIDispatcher.ExitLoop()")
    def ExitLoop(self) -> None:
        self._running = False

    @readme(UI, "UIDispatcher.RunLoop()")
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


class Fusion(Strict):
    """The ``fu`` / ``fusion`` global."""

    def __init__(self, resolve: Resolve | None = None, comp: Comp | None = None) -> None:
        self.UIManager = UIManager()
        self.resolve, self.comp = resolve, comp

    @readme(GUIDE, "Fusion.GetResolve()")
    def GetResolve(self) -> Resolve | None:
        record("fusion", "GetResolve")
        return self.resolve

    @readme(GUIDE, "Fusion.GetCurrentComp()")
    def GetCurrentComp(self) -> Comp | None:
        record("fusion", "GetCurrentComp")
        return self.comp


class Bmd(Strict):
    """The ``bmd`` global (BlackmagicFusion module); ``driver`` plays the artist (tests)."""

    def __init__(self, driver: Any = None) -> None:
        self.driver = driver
        self.dispatchers: list[UIDispatcher] = []

    @readme(GUIDE, "bmd.readfile(filename): reads a settings file (.setting, .comp) into a "
                   "table")
    def readfile(self, filename: str) -> dict | None:
        from hostfiles import parse_lua_table

        record("bmd", "readfile", filename)
        try:
            with open(filename, encoding="utf-8") as f:
                return parse_lua_table(f.read())
        except (OSError, ValueError):
            return None

    @readme(UI, "Bmd.UIDispatcher(ui)")
    def UIDispatcher(self, ui: UIManager) -> UIDispatcher:
        disp = UIDispatcher(ui)
        disp.driver = self.driver
        self.dispatchers.append(disp)
        return disp
