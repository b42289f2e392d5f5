"""report.html opens in a real browser (headless Chromium): every plot and still decodes.

Chromium is Debian's ``chromium`` package (``make browser`` installs it); without it these
tests are skipped with that reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from facecast.quality.plots import PLOTS
from facecast.quality.report import REPORT_HTML, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (run `make browser`)"),
]


def _chromium(profile, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from conftest import find_data

    plate = find_data("plates/weekly_address_clip1.mp4")
    character = find_data("faces/london/004/neutral.jpg").parent
    folder = tmp_path_factory.mktemp("browser")
    write_report(plate, plate, character, folder / "report", progress=False, max_frames=10)
    return folder / "report" / REPORT_HTML


def test_every_image_in_the_report_loads(page, tmp_path):
    result = _chromium(
        tmp_path / "profile", "--virtual-time-budget=15000", "--dump-dom", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    check = re.search(r'id="load-check" data-images="(\d+)" data-failed="(\d+)"', result.stdout)
    assert check, "the page's load check did not run"
    images, failed = int(check.group(1)), int(check.group(2))
    assert failed == 0
    assert images == page.read_text().count("<img")
    assert images >= len(PLOTS) + 2  # every plot, and at least one before/after pair


def test_report_is_self_contained(page):
    text = page.read_text()
    assert not re.search(r'(src|href)="(?!data:)', text), "external reference in report.html"
    assert text.count('src="data:image/png;base64,') == len(PLOTS)


def test_report_renders_a_readable_page(page, tmp_path):
    shot = tmp_path / "report.png"
    result = _chromium(
        tmp_path / "profile", "--window-size=1100,2400", f"--screenshot={shot}", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2400, 1100)
    assert float(np.std(image)) > 20  # text, tables and plots, not a blank page
