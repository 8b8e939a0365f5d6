#!/usr/bin/env python3
"""Starts a program with the live dashboard on, takes two headless-Chromium
screenshots of its page a few seconds apart, and checks that the page drew
progress, that progress advanced between them, and that the program ran to
its end with the page open (it waits for no browser).

usage: check_dashboard.py OUT_DIR PROGRAM [ARGS...]

The screenshots are OUT_DIR/dashboard-1.png and OUT_DIR/dashboard-2.png.
A second run with the port already taken must warn on stderr and succeed.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_report import chromium, png_pixels  # noqa: E402  (the same Chromium flags)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, proc, deadline_s=60):
    start = time.time()
    while time.time() - start < deadline_s:
        if proc.poll() is not None:
            sys.exit(f"the program ended (status {proc.returncode}) before its dashboard answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.load(r)
        except OSError:
            time.sleep(0.2)
    sys.exit(f"no dashboard at {url} after {deadline_s} s")


def look(url, shot):
    """The page after its script ran: the progress rows of its DOM, and a
    screenshot that must not be blank."""
    dom = chromium("--virtual-time-budget=1500", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    found = re.search(r'<body data-updates="(\d+)"', html)
    assert found, f"not the dashboard's page (did the program end?): {html[:500]}"
    updates = int(found.group(1))
    assert updates >= 1, "the page never read /state.json"
    jobs = {}
    for attrs in re.findall(r'<div class="job[^"]*"([^>]*)>', html):
        a = dict(re.findall(r'data-([a-z]+)="([^"]*)"', attrs))
        jobs[int(a["id"])] = (a["name"], int(a["done"]), int(a["total"]))
    workers = re.findall(r'<div class="busy" data-worker="([^"]+)" data-busy="([0-9.]+)"', html)
    assert workers, "no busy/idle row per worker"
    out = chromium(f"--screenshot={shot}", "--virtual-time-budget=1500", url)
    assert out.returncode == 0 and os.path.exists(shot), out.stderr[-2000:]
    rows = png_pixels(shot)
    colours = {px for row in rows[::8] for px in row[::8]}
    assert len(colours) > 8, f"{shot} looks blank ({len(colours)} colours)"
    return jobs, workers


def main():
    out_dir, program = os.path.abspath(sys.argv[1]), sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, PARALLEL_DASHBOARD=f"127.0.0.1:{port}")
    # Long enough for both looks on a loaded machine (each starts Chromium
    # twice): the demo's default ten seconds ran out before the second look
    # once, and the page was Chromium's error page.
    proc = subprocess.Popen(
        program + ["--seconds", "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(url + "state.json", proc)
        first, workers = look(url, os.path.join(out_dir, "dashboard-1.png"))
        time.sleep(3)
        second, _ = look(url, os.path.join(out_dir, "dashboard-2.png"))
        print(f"first look: {first}\nsecond look: {second}\nworkers: {workers}")
        assert first or second, "no map or compute on the page"
        advanced = any(
            done > first.get(i, (None, -1, None))[1] for i, (_, done, _) in second.items()
        )
        assert advanced, "progress did not advance between the two screenshots"
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, f"the program failed: {stderr[-2000:]}"
    assert "live dashboard on" in stderr, stderr[-2000:]

    # The port taken: a warning, and the program runs on.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        env = dict(os.environ, PARALLEL_DASHBOARD=f"127.0.0.1:{busy}")
        run = subprocess.run(program + ["--seconds", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"the program failed with the port taken: {run.stderr[-2000:]}"
    assert "warning: no live dashboard" in run.stderr, run.stderr[-2000:]
    print("dashboard: progress advanced between two screenshots; a taken port only warns")


if __name__ == "__main__":
    main()
