"""Run a menu script in a separate, bare Python, as Resolve would: ``python -S host_run.py JSON``.

``-S`` keeps site-packages out, so neither pyzmq nor segmatte is importable
until the script's own locating finds them (the installer's notes, the
vendored client). Standard library only. Prints one JSON object: the status
the artist saw, the calls the script made, and where zmq and the client
were loaded from.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

import fake_resolve as fr


def main(args: dict) -> dict:
    fr.use(fr.Reading(**args.get("reading", {})))
    timeline = fr.Timeline("Edit 1")
    project = fr.Project(timeline)
    resolve = fr.Resolve(project)
    source = fr.MediaPoolItem(os.path.basename(args["clip"]), {
        "File Path": args["clip"], "Resolution": f"{args['w']}x{args['h']}",
        "Frames": args["frames"], "Start": 0, "End": args["frames"] - 1, "FPS": "24"})
    item = fr.TimelineItem("green.mp4", source, 86400, args["duration"], 0, 1, args["frames"])
    timeline.tracks[0].append(item)
    timeline.current = item
    seen: dict = {"status": "", "message": ""}

    def play(win: fr.Window):
        items = win.GetItems()
        if win.ID == "segmatte_message":
            seen["message"] = items["text"].Text
            win.click("ok")
            return
        while not items["engine"].items:
            yield
        items["engine"].CurrentText = "key"
        items["attach"].CurrentText = "track"
        items["folder"].Text = args["folder"]
        win.click("go")
        while not any(w in items["status"].Text for w in ("new track", "failed", "cancelled")):
            yield
        seen["status"] = items["status"].Text
        win.close()

    fu = fr.Fusion(resolve)
    runpy.run_path(args["script"], init_globals={"app": fr.App(resolve), "fu": fu,
                                                 "bmd": fr.Bmd(play)}, run_name="__main__")
    zmq = sys.modules.get("zmq")
    client = sys.modules.get("segmatte.client")
    return {**seen, "import": fr.calls("ImportMedia"),
            "append": [[{k: v for k, v in c.items() if k != "mediaPoolItem"} for c in a[0]]
                       for a in fr.calls("AppendToTimeline")],
            "zmq": getattr(zmq, "__file__", None), "client": getattr(client, "__file__", None)}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
