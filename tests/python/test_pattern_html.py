"""The HTML pattern report in a real headless browser (Debian's chromium, installed by ./dev)."""
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

import fasctrack

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium not found: ./dev installs Debian's chromium for this test")


def browse(chromium, tmp_path, *args):
    profile = tmp_path / "profile"
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-extensions", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.found, self.svg, self.scripts = [], {}, 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(a.get("id"))
        self.svg += tag == "svg"
        self.scripts += tag == "script"

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.found[i] = self.found.get(i, "") + data


def report():
    visits = [("2026-01-05", [("biceps_r", 12), ("ta_l", 0)]), ("2026-01-19", [("biceps_r", 9), ("ta_l", 1)]),
              ("2026-02-09", [("biceps_r", 15), ("ta_l", 8)])]
    sessions = [{"id": f"s{i + 1}", "date": d, "clean_rest_s": 90, "context": ["<script>alert(1)</script>"],
                 "muscles": [{"muscle": m, "region": "cervical" if m == "biceps_r" else "lumbosacral",
                              "side": "R" if m == "biceps_r" else "L", "n_events": n} for m, n in ms]}
                for i, (d, ms) in enumerate(visits)]
    return fasctrack.classify(sessions, subject="S01", progress=False)


def test_html_renders_in_chromium_with_the_decision(chromium, tmp_path):
    r = report()
    path = tmp_path / "REPORT.html"
    r.to_html(path)
    dom = browse(chromium, tmp_path, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr
    parsed = _Text()
    parsed.feed(dom.stdout)
    # The browser parsed the page: the decision and disclaimer are in the DOM.
    assert parsed.found["decision-text"].strip() == r.decision
    assert "Warning pattern" in parsed.found["decision"]
    assert "not a diagnosis" in parsed.found["disclaimer"]
    assert parsed.svg >= 2  # the rate timelines
    assert parsed.scripts == 0  # the context tag was escaped, not executed
    assert "<script>alert(1)</script>" in parsed.found["sessions"]


def test_html_screenshot_is_drawn(chromium, tmp_path, histories_html):
    png = tmp_path / "shot.png"
    shot = browse(chromium, tmp_path, "--hide-scrollbars", "--window-size=1200,1800", f"--screenshot={png}",
                  Path(histories_html).as_uri())
    assert shot.returncode == 0, shot.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000  # a real, non-blank page


@pytest.fixture()
def histories_html(tmp_path):
    """A report with tracked units (waveform plots), from the bundled example."""
    manifest = Path(__file__).resolve().parents[2] / "data" / "history" / "manifest.json"
    r = fasctrack.classify(manifest, progress=False)
    assert not r.units.empty
    path = tmp_path / "example.html"
    r.to_html(path)
    return path


def test_html_and_json_agree(tmp_path):
    r = report()
    j = json.loads(r.to_json())
    html = r.to_html()
    assert j["pattern"] in html and f'content="{j["pattern"]}"' in html
    for row in j["reasons"]:
        assert row["text"].replace("<", "&lt;").replace(">", "&gt;") in html.replace("&gt;=", "&gt;=")
