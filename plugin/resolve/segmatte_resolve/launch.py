"""Entry points behind the menu scripts: find the host objects, load the client, open the panel.

Resolve hands a script its objects as globals (``resolve`` or ``app``, ``fu``
/ ``fusion``, ``bmd``, and ``comp`` in a Fusion comp script); which ones varies
between Resolve, its Fusion page and standalone Fusion, so each is looked up
with fallbacks. When pyzmq cannot be found the artist gets a window that says
exactly what to do, not a traceback in a console they may never open.
"""

from __future__ import annotations

import os
from typing import Any

from . import locate

SUPPORT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fusion(g: dict) -> Any:
    return g.get("fu") or g.get("fusion")


def _resolve(g: dict) -> Any:
    if g.get("resolve") is not None:
        return g["resolve"]
    for holder in (g.get("app"), _fusion(g)):
        get = getattr(holder, "GetResolve", None)
        if get is not None:
            try:
                found = get()
            except Exception:
                found = None
            if found is not None:
                return found
    return None


def _bmd(g: dict) -> Any:
    bmd = g.get("bmd")
    if bmd is None:
        try:
            import BlackmagicFusion as bmd  # Fusion's own module, when not injected
        except ImportError:
            bmd = None
    return bmd


def _ui(g: dict) -> tuple[Any, Any]:
    fu = _fusion(g)
    bmd = g.get("bmd")
    if bmd is None:
        try:
            import BlackmagicFusion as bmd  # Fusion's own module, when not injected
        except ImportError:
            bmd = None
    if fu is None or bmd is None:
        raise RuntimeError("run this from DaVinci Resolve's Workspace > Scripts menu or Fusion's "
                           "Scripts menu (the UI objects fu and bmd are missing)")
    ui = fu.UIManager
    return ui, bmd.UIDispatcher(ui)


def show_message(ui: Any, disp: Any, title: str, text: str) -> None:
    """A plain window with the text and an OK button (the artist may never see a console)."""
    win = disp.AddWindow({"ID": "segmatte_message", "WindowTitle": title,
                          "Geometry": [240, 240, 520, 220]},
                         ui.VGroup([ui.Label({"ID": "text", "Text": text, "WordWrap": True}),
                                    ui.Button({"ID": "ok", "Text": "OK"})]))

    def close(ev: Any = None) -> None:
        disp.ExitLoop()

    win.On.segmatte_message.Close = close
    win.On.ok.Clicked = close
    win.Show()
    disp.RunLoop()
    win.Hide()


def _client_factory(name: str) -> Any:
    from segmatte.client.client import Client

    return lambda: Client(name=name)


def _open(g: dict, make_target: Any, name: str) -> int:
    print_fallback = print
    try:
        ui, disp = _ui(g)
    except RuntimeError as exc:
        print_fallback(f"segmatte: {exc}")
        return 1
    located = locate.ensure_client(SUPPORT_DIR)
    if not located.ok:
        print_fallback(f"segmatte: {located.message}")
        show_message(ui, disp, "segmatte cannot start", located.message)
        return 1
    from .panel import Panel

    Panel(ui, disp, make_target(), _client_factory(name), _bmd(g)).run()
    return 0


def resolve_main(g: dict) -> int:
    """Workspace > Scripts > Utility: the clip under the playhead."""

    def target() -> Any:
        from .targets import ResolveTarget  # after ensure_client: it imports segmatte.client

        return ResolveTarget(_resolve(g), _fusion(g))

    return _open(g, target, "resolve")


def fusion_main(g: dict) -> int:
    """Fusion page / standalone Fusion, Scripts > Comp: the selected Loader or MediaIn."""

    def target() -> Any:
        from .targets import FusionTarget  # after ensure_client: it imports segmatte.client

        comp = g.get("comp")
        fu = _fusion(g)
        if comp is None and fu is not None:
            comp = fu.GetCurrentComp()
        return FusionTarget(comp, _resolve(g))

    return _open(g, target, "fusion")


def diagnose_main(g: dict) -> int:
    """Workspace > Scripts > segmatte Diagnose: print what this Resolve does with the open points."""
    locate.add_vendor(SUPPORT_DIR)  # the client's stdlib modules; pyzmq is not needed here
    from . import diagnose

    lines = diagnose.run(_resolve(g), _fusion(g))
    for line in lines:
        print(line)
    path = diagnose.save(lines)
    print(f"segmatte Diagnose: the report is also in {path}")
    return 0
