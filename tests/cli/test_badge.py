"""`vrift profile badge`: a valid, self-contained SVG that a browser draws with the expected text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import vrift
from vrift_cli import history
from vrift_cli.badge import text_width
from vrift_cli.run_record import RunRecord

S = 1_000_000_000
SVG_NS = "{http://www.w3.org/2000/svg}"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _record(history_db: Path, **kw) -> None:
    fields = dict(
        started_ns=1_770_000_000 * S,
        ended_ns=1_770_000_060 * S,  # 60 s
        argv=("make", "-j2"),
        cwd="/src",
        command_name="make",
        exit_status=0,
        source="run",
        session_path="/tmp/s.vrift",
        processes=3,
        calls=100,
        errors=0,
        enoent=0,
        eacces=0,
        latency_ns=S,
        vfs_handled=70,
        vfs_passthrough=30,
        time_saved_ns=20 * S,
        projections=((1000, 400),),  # 60% saved
        bytes_read=0,
        bytes_written=0,
        vrift_version="0.1.0",
    )
    fields.update(kw)
    history.record(RunRecord(**fields), history_db)


def _texts(svg: Path) -> list[str]:
    root = ET.parse(svg).getroot()
    assert root.tag == SVG_NS + "svg"
    return [t.text for t in root.iter(SVG_NS + "text") if t.get("aria-hidden") != "true"]


def test_badge_from_history_session_and_errors(history_db: Path, sample_session: Path, tmp_path: Path):
    err = vrift("profile", "badge", check=False)
    assert err.returncode == 2 and err.stderr.startswith("vrift: no runs recorded in ")
    assert len(err.stderr.splitlines()) == 1
    _record(history_db)
    _record(history_db, session_path="/tmp/t.vrift", started_ns=1_770_000_100 * S, ended_ns=1_770_000_145 * S,
            argv=("ninja",), command_name="ninja", exit_status=1, vfs_handled=None, vfs_passthrough=None,
            time_saved_ns=None, projections=())  # fmt: skip
    out = tmp_path / "b.svg"
    assert (
        vrift("profile", "badge", "-o", str(out), "--command", "make").stdout
        == f"vrift: badge written: {out}\n"
    )
    assert _texts(out) == ["build", "60.00s", "saved", "~20.00s", "dedup", "60.0%"]
    latest = vrift("profile", "badge").stdout  # the latest run: a failed one without a VFS
    assert re.search(r"<title>build: 45.00s \(exit 1\) \| saved: no VFS \| dedup: none</title>", latest)
    assert "#e05d44" in latest  # red for the failed build
    # from a session file: the same figures the history would record
    svg = tmp_path / "s.svg"
    vrift("profile", "badge", "--from", str(sample_session), "-o", str(svg))
    assert _texts(svg)[::2] == ["build", "saved", "dedup"] and _texts(svg)[3] == "no VFS"
    bad = vrift("profile", "badge", "--from", str(tmp_path / "missing.vrift"), check=False)
    assert bad.returncode == 2 and bad.stderr == f"vrift: {tmp_path / 'missing.vrift'}: no such file\n"


def test_widths_grow_with_the_text():
    assert text_width("") == 0
    assert text_width("iiii") < text_width("mmmm")
    assert abs(text_width("build") - (6.83 + 6.96 + 3.02 + 3.02 + 6.83)) < 1e-9 and text_width(
        "57.0%"
    ) > text_width("57.0")


_MEASURE = """<!doctype html><html><body style="margin:0;background:#fff">%s
<pre id="result"></pre>
<script>
const out = [];
for (const t of document.querySelectorAll('svg text:not([aria-hidden])')) {
  const box = t.getBBox();
  const cx = parseFloat(t.getAttribute('x'));
  const rect = [...document.querySelectorAll('svg g[clip-path] rect[x]')].find(r => {
    const x = parseFloat(r.getAttribute('x')), w = parseFloat(r.getAttribute('width'));
    return x <= cx && cx < x + w;
  });
  out.push({text: t.textContent, x: box.x, width: box.width, glyphs: t.getNumberOfChars(),
            rectX: parseFloat(rect.getAttribute('x')), rectWidth: parseFloat(rect.getAttribute('width')),
            fill: rect.getAttribute('fill')});
}
document.getElementById('result').textContent = JSON.stringify(out);
</script></body></html>"""


def _chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome'}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not CHROMIUM, reason="chromium not installed (scripts/test installs it)")
def test_badge_renders_in_headless_chromium(history_db: Path, tmp_path: Path):
    pytest.importorskip("PIL")
    from PIL import Image

    _record(history_db)
    svg = tmp_path / "badge.svg"
    vrift("profile", "badge", "-o", str(svg))
    text = svg.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # self-contained
    assert "@font-face" not in text and "<image" not in text

    # The browser lays out every text inside its own segment.
    page = tmp_path / "measure.html"
    page.write_text(_MEASURE % text)
    r = _chromium(tmp_path, page.as_uri(), "--dump-dom", "--virtual-time-budget=2000")
    m = re.search(r'<pre id="result">(.*?)</pre>', r.stdout, re.S)
    assert m and m.group(1), r.stderr[-2000:]
    laid_out = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert [t["text"] for t in laid_out] == ["build", "60.00s", "saved", "~20.00s", "dedup", "60.0%"]
    assert [t["fill"] for t in laid_out] == ["#555", "#007ec6", "#555", "#4c1", "#555", "#4c1"]
    for t in laid_out:
        assert t["glyphs"] == len(t["text"]) and t["width"] > 0.5 * text_width(t["text"]), t
        assert t["rectX"] - 0.5 <= t["x"] and t["x"] + t["width"] <= t["rectX"] + t["rectWidth"] + 0.5, t

    # The SVG file itself, opened as a page: coloured segments with white text on them.
    png = tmp_path / "shot.png"
    r = _chromium(
        tmp_path, svg.as_uri(), "--force-device-scale-factor=4", "--window-size=400,40", f"--screenshot={png}"
    )
    assert png.exists(), r.stderr[-2000:]
    img = Image.open(png).convert("RGB")
    width = float(ET.parse(svg).getroot().get("width"))
    scale = img.width / 400

    def segment(i: int) -> list[tuple[int, int, int]]:
        x0 = (laid_out[i]["rectX"] + 2) * scale
        x1 = (laid_out[i]["rectX"] + laid_out[i]["rectWidth"] - 2) * scale
        return [
            img.getpixel((x, y))
            for x in range(int(x0), int(x1))
            for y in range(int(4 * scale), int(16 * scale))
        ]

    def near(px: tuple[int, int, int], rgb: tuple[int, int, int], tol: int = 40) -> bool:
        return all(abs(a - b) <= tol for a, b in zip(px, rgb, strict=True))

    for i, rgb in ((1, (0x00, 0x7E, 0xC6)), (3, (0x44, 0xCC, 0x11)), (4, (0x55, 0x55, 0x55))):
        pixels = segment(i)
        background = sum(near(p, rgb) for p in pixels)
        white = sum(min(p) > 230 for p in pixels)
        assert background > 0.4 * len(pixels), (i, background, len(pixels))
        assert white > 0.03 * len(pixels), (i, white)  # the text is drawn
    right = [img.getpixel((x, 40)) for x in range(int((width + 4) * scale), img.width, 7)]
    assert all(p == (255, 255, 255) for p in right)  # nothing beyond the badge
