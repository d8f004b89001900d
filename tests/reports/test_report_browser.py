"""report.html in a real browser: headless Chromium renders it to a PNG without console messages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CONSOLE = re.compile(r":CONSOLE[:(]")  # how Chromium logs a page's console messages with --enable-logging


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "Chromium not found on PATH (tried " + ", ".join(BROWSERS) + "); install it with `apt-get install chromium` "
        "(.ci/run does so where it can) to run the browser check"
    )


def screenshot(browser: str, page: Path, png: Path, profile: Path, size: str = "1280,4000") -> list[str]:
    """Render ``page`` headless into ``png``; return the page's console messages from Chromium's log."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size={size}",
        "--enable-logging=stderr",
        "--v=0",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    assert png.exists(), done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if CONSOLE.search(line)]


def test_console_messages_are_detected(tmp_path: Path):
    """The check below can fail: a page that logs an error is caught."""
    browser = find_browser()
    page = tmp_path / "noisy.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom-42")</script></body></html>')
    messages = screenshot(browser, page, tmp_path / "noisy.png", tmp_path / "profile", size="400,300")
    assert any("boom-42" in line for line in messages)


def test_report_renders_in_chromium_without_console_errors(electronics_report, tmp_path: Path):
    browser = find_browser()
    _, out = electronics_report
    png = tmp_path / "report.png"
    messages = screenshot(browser, out / "report.html", png, tmp_path / "profile")
    assert messages == []
    with Image.open(png) as image:
        assert image.size == (1280, 4000)
        top = image.convert("RGB").crop((0, 0, 1280, 4000))
        colours = top.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200  # text, tables and figures, not a blank page
        # the Okabe–Ito green of "busy" in the machine-state figure is on screen
        assert any(abs(r - 0) + abs(g - 158) + abs(b - 115) < 12 for _, (r, g, b) in colours)
