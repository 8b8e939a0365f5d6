#!/usr/bin/env python3
"""Opens a parallel-report HTML file in headless Chromium and checks that the
timelines drew: after layout and scripts, every section's canvas must have
accounted for every span of its section (drawn one by one, or in its
track's occupancy), and a screenshot must not be blank.

usage: check_report.py REPORT.html SCREENSHOT.png [MIN_TRACKS] [OPTION...]

Options:
  graph          the report shows a task graph and its critical path
  failures       the report has failed or cancelled spans, and the page marked
                 every one of them (in the canvases, the graph, the table)
  sections=N     the report has exactly N sections (maps, computes), each
                 with its own timeline
  max-mb=N       the file is at most N megabytes
  max-seconds=N  Chromium loads, lays out and draws it in at most N seconds
  zoom=S,A,B     the screenshot zooms section S to fractions A..B of its time

or: check_report.py --write REPORT_COMMAND... -- MAX_SECONDS
  runs the command that writes a report and checks that it took at most
  MAX_SECONDS, printing its wall time, CPU time and peak memory.

A time limit that wall time overruns while the machine is overloaded (load
average above its cores) only warns, if the CPU time kept to it: the
check is of the program, not of the machine's other work.
"""
import json
import os
import resource
import re
import struct
import subprocess
import sys
import tempfile
import time
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


def within(what, wall, limit, cpu=None):
    """Checks a time limit (see the module's documentation)."""
    if wall <= limit:
        return
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores and (cpu is None or cpu <= limit):
        print(f"warning: {what} took {wall:.1f} s, over {limit} s, on an overloaded machine "
              f"(load average {load:.1f} on {cores} cores)" + (f"; CPU time {cpu:.1f} s" if cpu is not None else ""))
        return
    raise AssertionError(f"{what} took {wall:.1f} s, limit {limit} s")


def write(args):
    """`--write COMMAND... -- MAX_SECONDS`: times a report's writing."""
    sep = args.index("--")
    command, limit = args[:sep], float(args[sep + 1])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"report written in {wall:.2f} s (CPU {cpu:.2f} s), peak memory {after.ru_maxrss / 1024:.0f} MB")
    within("writing the report", wall, limit, cpu)


def main():
    if sys.argv[1] == "--write":
        return write(sys.argv[2:])
    report, shot = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    min_tracks = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    opts = dict((a.split("=", 1) + [""])[:2] for a in sys.argv[4:])
    size_mb = os.path.getsize(report) / 1e6
    if "max-mb" in opts:
        assert size_mb <= float(opts["max-mb"]), f"the report is {size_mb:.1f} MB, limit {opts['max-mb']} MB"
    html = open(report, encoding="utf-8").read()
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", ""), \
        "the report must not load anything from the network"
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))
    sections = re.findall(r'<section class="run" id="section-\d+" data-events="(\d+)" data-failures="(\d+)">', html)
    expected = sum(int(n) for n, _ in sections)
    failures = sum(int(f) for _, f in sections)
    tracks = len({row for s in data["sections"] for row in s["rows"]})
    assert expected > 0, "the report holds no events"
    assert expected == sum(sum(s["counts"]) for s in data["sections"]), "the sections' data miss spans"
    assert tracks >= min_tracks, f"{tracks} tracks in the timelines, expected at least {min_tracks}"
    if "graph" in opts:
        assert 'id="critical"' in html and 'id="graph"' in html, "no critical path or task graph in the report"
        assert html.count('class="node') > 1, "the task graph has no nodes"
    if "sections" in opts:
        assert len(sections) == int(opts["sections"]), f"{len(sections)} sections, expected {opts['sections']}"

    started = time.monotonic()
    dom = chromium("--dump-dom", f"file://{report}")
    seconds = time.monotonic() - started
    if "max-seconds" in opts:
        within("Chromium", seconds, float(opts["max-seconds"]))
    m = re.search(r'<body data-drawn="(\d+)" data-failed="(\d+)" data-spans="(\d+)" data-sections="(\d+)"', dom.stdout)
    assert m, f"the page's script did not run (no data-drawn in the DOM); stderr: {dom.stderr[-500:]}"
    drawn, failed, _, drawn_sections = map(int, m.groups())
    assert drawn == expected, f"{drawn} of {expected} spans were drawn"
    assert drawn_sections == len(sections), f"{drawn_sections} of {len(sections)} timelines were drawn"
    # Each section's own canvas drew its own spans (sections do not merge).
    canvases = re.findall(r'<canvas class="timeline" data-section="(\d+)"[^>]*data-drawn="(\d+)"', dom.stdout)
    assert [int(d) for _, d in canvases] == [int(n) for n, _ in sections], \
        f"spans drawn per section {canvases}, expected {[n for n, _ in sections]}"
    if "failures" in opts:
        assert failures > 0, "the report marks no failed or cancelled span"
        assert failed == failures, f"{failed} of {failures} failed or cancelled spans were marked in the timelines"
        assert '<table id="failures">' in dom.stdout, "no table of failures in the DOM"
        if "graph" in opts:
            assert re.search(r'<g class="node[^"]* (failed|cancelled)">', dom.stdout), "no failed task marked in the graph"

    os.makedirs(os.path.dirname(shot), exist_ok=True)
    url = f"file://{report}" + (f"#zoom={opts['zoom']}" if "zoom" in opts else "")
    chromium(f"--screenshot={shot}", url)
    rows = png_pixels(shot)
    pixels = [p for row in rows for p in row]
    colours = len(set(pixels))
    inked = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
    assert colours >= 8 and inked > 0.02, f"the screenshot looks blank ({colours} colours, {inked:.1%} non-white)"
    print(f"browser check passed: {drawn}/{expected} spans drawn in {len(sections)} sections on {tracks} tracks, "
          f"{failed} failed or cancelled marked; {size_mb:.1f} MB, drawn by Chromium in {seconds:.1f} s; "
          f"screenshot {shot} ({len(rows[0])}x{len(rows)}, {colours} colours, {inked:.0%} non-white)")


if __name__ == "__main__":
    main()
