"""report.html in a real browser: headless Chromium renders it to a PNG without console messages."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from test_report_surrogate import surrogate_folder as write_surrogate_folder

from reports.folders import folder_report
from reports.write import write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CONSOLE = re.compile(r":CONSOLE[:(]")  # how Chromium logs a page's console messages with --enable-logging
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


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
        *HEADLESS,
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


ACCENT = (0, 114, 178)  # Okabe–Ito blue: the top border of the summary's cards


def assert_renders_summary_first(browser: str, report: Path, tmp_path: Path) -> None:
    """Chromium renders the report without console messages, not blank, with the summary's cards at the top."""
    png = tmp_path / f"{report.parent.name}.png"
    messages = screenshot(browser, report, png, tmp_path / "profile")
    assert messages == []
    with Image.open(png) as image:
        assert image.size == (1280, 4000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200  # text, tables and figures, not a blank page
        top = image.convert("RGB").crop((0, 0, 1280, 700)).getcolors(maxcolors=1 << 20)
        assert any(abs(r - ACCENT[0]) + abs(g - ACCENT[1]) + abs(b - ACCENT[2]) < 12 for _, (r, g, b) in top)


REPORT_KINDS = (
    "electronics_run",
    "ft06_run",
    "whatif_folder",
    "sweep_folder",
    "augment_folder",
    "latents_folder",
    "recommend_folder",
    "surrogate_folder",
)
AUGMENT_SUMMARY = Path(__file__).parent / "data" / "augment_summary.json"
LATENTS_SUMMARY = Path(__file__).parent / "data" / "latents_summary.json"


@pytest.fixture
def augment_folder(tmp_path: Path) -> Path:
    """An `augment evaluate` folder holding only its summary.json (a real tiny run), with a real-vs-real fidelity
    entry added (the all-rows entry stands in for it) so that its wider tables are measured too."""
    summary = json.loads(AUGMENT_SUMMARY.read_text(encoding="utf-8"))
    summary["fidelity"]["reference"] = summary["fidelity"]["all_rows"]
    folder = tmp_path / "augment"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


@pytest.fixture
def latents_folder(tmp_path: Path) -> Path:
    """A `latents evaluate` folder holding its summary.json (hand-written) and stand-ins for the figures the command
    draws."""
    summary = json.loads(LATENTS_SUMMARY.read_text(encoding="utf-8"))
    folder = tmp_path / "latents"
    for rel in summary["figures"].values():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (600, 300), (240, 240, 240)).save(folder / rel)
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


@pytest.fixture
def recommend_folder(tmp_path: Path) -> Path:
    """A `latents recommend` folder holding its summary.json (hand-written)."""
    folder = tmp_path / "recommend"
    folder.mkdir()
    text = (LATENTS_SUMMARY.parent / "latents_recommend_summary.json").read_text("utf-8")
    (folder / "summary.json").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def surrogate_folder(tmp_path: Path) -> Path:
    """A `surrogate evaluate` folder: its summary.json (a real tiny run) and a predictions.parquet from arrays."""
    return write_surrogate_folder(tmp_path / "surrogate")


@pytest.mark.parametrize("kind", REPORT_KINDS)
def test_every_report_kind_renders_and_fits_on_screen_and_on_paper(kind: str, request, tmp_path: Path):
    """Run (a plant with every mechanism), job shop, what-if, sweep, augmentation, latents and surrogate reports, as
    the commands write them."""
    browser = find_browser()
    folder = request.getfixturevalue(kind)
    report = folder / "report.html"
    if not report.exists():  # a run saved in-process: write its report as `shopfloor report` does, into a copy
        shutil.copytree(folder, tmp_path / kind)
        write_report(folder_report(tmp_path / kind), tmp_path / kind)
        report = tmp_path / kind / "report.html"
    assert_renders_summary_first(browser, report, tmp_path)
    assert_no_table_overflows(browser, report, tmp_path)


MEASURE = """<script>
const tables = [...document.querySelectorAll('.table-wrap')].map(wrap => {
  const table = wrap.querySelector('table');
  return {id: table.id, width: table.scrollWidth, box: wrap.clientWidth};
});
const root = document.documentElement;
document.body.dataset.layout = JSON.stringify({tables, page: root.scrollWidth, viewport: window.innerWidth});
</script>"""
LAYOUT = re.compile(r'data-layout="([^"]*)"')


def layout(browser: str, report: Path, tmp_path: Path, width: int, print_styles: bool = False) -> dict:
    """Widths of every table and its box, and of the page, as Chromium lays the report out at ``width`` px.

    With ``print_styles`` the page's print rules apply on screen, at the width of an A4 page less its margins:
    what a printout would cut off overflows there.
    """
    html = report.read_text(encoding="utf-8")
    if print_styles:
        html = html.replace("@media print", "@media all")
    probe = tmp_path / f"probe-{width}-{int(print_styles)}.html"
    probe.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    command = [
        browser,
        *HEADLESS,
        f"--user-data-dir={tmp_path / 'profile-layout'}",
        f"--window-size={width},2000",
        "--dump-dom",
        probe.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    found = LAYOUT.search(done.stdout)
    assert found, "the layout probe did not run"
    return json.loads(html_module.unescape(found.group(1)))


def assert_no_table_overflows(browser: str, report: Path, tmp_path: Path) -> None:
    """On a desktop screen and on paper (A4 less 15 mm margins = 680 px), every table fits its box."""
    for width, print_styles in ((1280, False), (680, True)):
        measured = layout(browser, report, tmp_path, width, print_styles)
        assert measured["tables"], "no tables measured"
        wide = [t for t in measured["tables"] if t["width"] > t["box"] + 1]
        assert not wide, (width, print_styles, wide)
        assert measured["page"] <= measured["viewport"] + 1, (width, print_styles, measured["page"])


def test_the_overflow_check_can_fail(tmp_path: Path):
    """A table wider than its box is caught."""
    browser = find_browser()
    page = tmp_path / "wide.html"
    cells = "".join(f"<td>{'x' * 40}{i}</td>" for i in range(30))
    page.write_text(
        '<!DOCTYPE html><html><body><div class="table-wrap" style="overflow-x:auto;width:300px">'
        f'<table id="wide"><tr>{cells}</tr></table></div></body></html>'
    )
    measured = layout(browser, page, tmp_path, 800)
    assert measured["tables"][0]["width"] > measured["tables"][0]["box"]
