"""Before opening a real window: check the X libraries Qt's xcb plugin needs and say what to install.

PySide6 ≥ 6.5 needs libxcb-cursor0 (and libxcb-icccm4, libxcb-keysyms1), which many Linux installs lack;
without them Qt aborts with "Could not load the Qt platform plugin xcb", which tells a user nothing.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

_XCB_LIBS = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1"}


def missing_x_libraries() -> list[str]:
    """Debian package names of the missing X libraries (empty off Linux or when all are present)."""
    if not sys.platform.startswith("linux"):
        return []
    return [package for lib, package in _XCB_LIBS.items() if ctypes.util.find_library(lib) is None]


def problems() -> list[str]:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform in ("offscreen", "minimal") or not sys.platform.startswith("linux"):
        return []
    out = []
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        out.append(
            "no display: run on a desktop, or under a virtual X server: "
            "`xvfb-run -a memstudio` (Debian/Ubuntu: sudo apt-get install xvfb)"
        )
    missing = missing_x_libraries()
    if missing:
        out.append(
            "Qt's X11 plugin needs libraries this system lacks. Install them with:\n"
            f"    sudo apt-get install {' '.join(missing)}\n"
            "(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms)"
        )
    return out


def main() -> int:
    found = problems()
    for problem in found:
        print(f"memstudio: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
