"""``segmatte Diagnose`` (Workspace > Scripts) under every reading: it must tell them apart.

The script runs installed, as Resolve runs it, on an image-sequence clip; what
it prints is what a user with a real Resolve pastes into a bug report, so each
reading of the fake must come out as that reading, and the experiments must
leave the project as they found it.
"""

from __future__ import annotations

from pathlib import Path

import fake_resolve as fr
import pytest
from resolvekit import Host

from segmatte.server.installers import resolve as installer

SEQ = "/s/gs.[1001-1012].exr"


def run_diagnose(host: Host, scripts: Path, capsys: pytest.CaptureFixture[str],
                 comp: fr.Comp | None = None) -> str:
    host.run(scripts / "Utility" / installer.DIAGNOSE, driver=None, comp=comp)
    return capsys.readouterr().out


@pytest.mark.parametrize("reading", fr.readings("append_start", "append_end", "mattes",
                                                "source_base"), ids=str, indirect=True)
def test_diagnose_names_each_reading_and_undoes_its_experiments(
        reading: fr.Reading, scripts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = Host(SEQ, first=1001)
    original = host.timeline
    out = run_diagnose(host, scripts, capsys)

    assert "timelineFrameRate: '24' -> 24.00000 fps, timecode base 24, drop-frame False" in out
    assert "playhead: '01:00:02:02' -> timeline frame 86450" in out
    base = 1001 if reading.source_base == "clip" else 0
    assert f"GetSourceStartFrame counts from {base}, playhead source frame 1006" in out
    assert "GetEnd: exclusive (End - Start = Duration)" in out
    end = "endFrame " + reading.append_end
    if reading.append_start == "zero":
        assert f"-> {end}, startFrame counts from 0" in out
        assert "AppendToTimeline startFrame 1001 endFrame 1005: nothing placed" in out
    else:
        assert "AppendToTimeline startFrame 0 endFrame 4: nothing placed" in out
        assert f"-> {end}, startFrame counts from the first file number" in out
    stills = {"one": 1, "stills": 3, "stills_only": 3}[reading.mattes]
    ranged = {"one": "False, 0", "stills": "True, 1", "stills_only": "False, 0"}[reading.mattes]
    assert f"AddClipMattesToMediaPool with 3 frame files: returned True, {stills} mattes" in out
    assert f"AddClipMattesToMediaPool with one [a-b] name: returned {ranged} mattes" in out
    # nothing left behind: the scratch timeline, the test mattes
    assert host.project.timelines == [original] and host.project.timeline is original
    assert host.source.mattes == [] and len(original.tracks) == 1
    assert "the report is also in" in out


def test_diagnose_on_the_fusion_page_reads_the_comp_not_the_playhead(
        scripts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = Host(SEQ, first=1001, page="fusion")
    comp = fr.Comp.clip_comp(6)
    comp.CurrentTime = 2
    out = run_diagnose(host, scripts, capsys, comp=comp)
    assert "playhead: not read on the fusion page" in out
    assert "playhead source frame 1006" in out  # left offset 3 + CurrentTime 2
    assert "fusion page: CurrentTime=2, render range (0, 5), MediaIn1 GlobalIn=0" in out
    assert fr.calls("GetCurrentTimecode") == []


def test_diagnose_without_a_clip_says_what_to_do(scripts: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    host = Host(SEQ, first=1001, current=False)
    out = run_diagnose(host, scripts, capsys)
    assert "item: none under the playhead (put it over a clip and run again)" in out
    assert fr.calls("CreateEmptyTimeline") == []
