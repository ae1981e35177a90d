"""QC: the frames the artist should look at, from a finished job's manifest (no bpy).

The engine writes each frame's object scores and flags (``empty`` where the
object vanished) into the manifest; :meth:`ManifestInfo.doubtful` picks the
frames under a threshold. The panel lists them and the clip editor's timeline
marks them so the artist can jump there and fix them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client.manifest import ManifestInfo


@dataclass(frozen=True)
class Doubt:
    frame: int
    """Source frame number."""
    layers: tuple[str, ...]
    score: float | None
    """The lowest score of those layers on the frame (None when only flagged)."""
    empty: bool

    @property
    def text(self) -> str:
        what = "empty" if self.empty else f"score {self.score:.2f}" if self.score is not None \
            else "doubtful"
        return f"{', '.join(self.layers)}: {what}"


def doubts(info: ManifestInfo, threshold: float) -> list[Doubt]:
    """The doubtful frames of ``info`` in frame order."""
    notes = {n.number: n for n in info.notes}
    out = []
    for frame, layers in sorted(info.doubtful(threshold).items()):
        note = notes.get(frame)
        scores = [note.scores[x] for x in layers if note and x in note.scores]
        empty = bool(note and any("empty" in note.flags.get(x, ()) for x in layers))
        out.append(Doubt(frame, tuple(layers), min(scores) if scores else None, empty))
    return out
