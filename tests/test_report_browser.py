"""The HTML report in a real browser: Debian's Chromium, headless, opens ``report.html`` from
disk with the network unused; every image must load (``naturalWidth > 0``) and no script or
console error may occur. The report's inline script writes both facts on ``<body>``
(``data-images-ok``, ``data-images``, ``data-errors``) once the page has loaded; Chromium's
``--dump-dom`` prints the DOM after ``--virtual-time-budget`` has let the load event run.

A screenshot is kept as ``test-artifacts/report.png`` (git-ignored). Chromium is part of the
test set-up: a missing binary fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report import fitted_run, forecasts_for

from nowcast.fit import load_run
from nowcast.report import render_report

# one xdist worker runs this file, and its fits are session fixtures: built once, although
# xdist interleaves other files' tests with this one's (a module fixture would be rebuilt)
pytestmark = pytest.mark.xdist_group("test_report_browser")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_S = 120
FLAGS = [
    "--headless",
    "--no-sandbox",  # tests may run as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]


def chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        pytest.fail(
            "chromium is not installed: run `make browser` (sudo apt-get install -y chromium)"
            " to set up the headless-browser test"
        )
    return path


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


class _Body(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] = {}
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.attrs = dict(attrs)
        elif tag == "img":
            self.images += 1


def loaded_state(page: Path, profile: Path) -> tuple[dict[str, str | None], int, str]:
    """Body attributes after load, the number of <img> in the DOM, and Chromium's log."""
    proc = run_chromium(page, profile, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = _Body()
    body.feed(proc.stdout)
    return body.attrs, body.images, proc.stderr


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def report_html(tmp_path_factory) -> Path:
    tree = load_run(fitted_run(tmp_path_factory))
    out = tmp_path_factory.mktemp("browser_report")
    return render_report(tree, forecasts_for(tree), out).html


def test_report_loads_every_image_without_errors(report_html, tmp_path):
    attrs, images, log = loaded_state(report_html, tmp_path / "profile")
    assert images >= 4
    assert attrs.get("data-images-ok") == "true", attrs
    assert attrs.get("data-images") == str(images)
    assert json.loads(attrs.get("data-errors") or "null") == []
    assert not re.search(r"CONSOLE.*Uncaught", log), log[-2000:]


def test_screenshot_is_kept(report_html, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = run_chromium(
        report_html, tmp_path / "profile", "--window-size=1280,4000", f"--screenshot={shot}"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000


def test_check_catches_a_broken_image_and_a_script_error(report_html, tmp_path):
    """The check is not vacuous: one corrupted image and one thrown error are reported."""
    html = report_html.read_text(encoding="utf-8")
    html = re.sub(
        r'src="data:image/png;base64,[^"]{0,64}', 'src="data:image/png;base64,AAAA', html, count=1
    )
    html = html.replace("</body>", "<script>undefinedFunction();</script></body>")
    broken = tmp_path / "broken.html"
    broken.write_text(html, encoding="utf-8")
    attrs, _, _ = loaded_state(broken, tmp_path / "profile")
    assert attrs.get("data-images-ok") == "false"
    errors = json.loads(attrs.get("data-errors") or "[]")
    assert any("undefinedFunction" in e for e in errors)
    assert any("failed to load img" in e for e in errors)
