#!/usr/bin/env python3
"""Opens a parallel-report HTML file in headless Chromium and checks that the
timeline drew: the DOM (after layout and scripts) must hold every event
rectangle with a non-zero size, and a screenshot must not be blank.

usage: check_report.py REPORT.html SCREENSHOT.png [MIN_TRACKS] [graph]

With `graph`, the report must also show a task graph and its critical path.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1200,900",
]


def chromium(*args):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA PNG into rows of (r, g, b) tuples."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"unsupported PNG (depth {depth}, colour type {ctype})"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw, stride = zlib.decompress(idat), width * bpp
    prev, rows, i = bytearray(stride), [], 0
    for _ in range(height):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return rows


def main():
    report, shot = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    min_tracks = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    html = open(report, encoding="utf-8").read()
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", ""), \
        "the report must not load anything from the network"
    expected = html.count('<rect class="ev')
    tracks = len(set(re.findall(r'<text x="4" y="[0-9.]+">([^<]+)</text>', html)))
    assert expected > 0, "the report holds no events"
    assert tracks >= min_tracks, f"{tracks} tracks in the timeline, expected at least {min_tracks}"
    if "graph" in sys.argv[4:]:
        assert 'id="critical"' in html and 'id="graph"' in html, "no critical path or task graph in the report"
        assert html.count('class="node') > 1, "the task graph has no nodes"

    dom = chromium("--dump-dom", f"file://{report}")
    m = re.search(r'data-drawn="(\d+)"', dom.stdout)
    assert m, f"the page's script did not run (no data-drawn in the DOM); stderr: {dom.stderr[-500:]}"
    drawn = int(m.group(1))
    assert drawn == expected, f"{drawn} of {expected} event rectangles were laid out with a size"

    os.makedirs(os.path.dirname(shot), exist_ok=True)
    chromium(f"--screenshot={shot}", f"file://{report}")
    rows = png_pixels(shot)
    pixels = [p for row in rows for p in row]
    colours = len(set(pixels))
    inked = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
    assert colours >= 8 and inked > 0.02, f"the screenshot looks blank ({colours} colours, {inked:.1%} non-white)"
    print(f"browser check passed: {drawn}/{expected} event rectangles drawn on {tracks} tracks; "
          f"screenshot {shot} ({len(rows[0])}x{len(rows)}, {colours} colours, {inked:.0%} non-white)")


if __name__ == "__main__":
    main()
