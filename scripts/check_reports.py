#!/usr/bin/env python3
"""Opens reports in headless Chromium (as a reader would) and checks them: each page's screenshot
is not blank, and the rendered DOM holds the values stored in the index (study UIDs, findings and
probabilities; for a multi-label head every finding and the present ones). Usage: check_reports.py REPORTS_DIR DB"""
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib


def chromium(*args):
    return subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--allow-file-access-from-files", *args], capture_output=True, text=True, timeout=120)


def png_pixels(path):
    """Decodes an 8-bit, non-interlaced RGB/RGBA PNG with the standard library; returns (w, h, channels, rows)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unexpected PNG format {depth}/{color}"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            p = {0: 0, 1: a, 2: b, 3: (a + b) // 2}.get(f)
            if p is None:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + p) & 0xFF
        rows.append(line)
        prev = line
    return width, height, channels, rows


def not_blank(path):
    w, h, ch, rows = png_pixels(path)
    values = {bytes(r[i:i + 3]) for r in rows[::7] for i in range(0, w * ch, ch * 7)}
    return len(values) > 20, f"{w}x{h}, {len(values)} distinct colours sampled"


def check(page, expected, work):
    shot = os.path.join(work, "shot.png")
    r = chromium(f"--screenshot={shot}", "--window-size=1280,1400", "file://" + os.path.abspath(page))
    if not os.path.exists(shot):
        return [f"{page}: no screenshot ({r.stderr.strip()[:200]})"]
    problems = []
    ok, detail = not_blank(shot)
    if not ok:
        problems.append(f"{page}: screenshot looks blank ({detail})")
    dom = chromium("--dump-dom", "file://" + os.path.abspath(page)).stdout
    for value in expected:
        if value not in dom:
            problems.append(f"{page}: rendered DOM lacks {value!r}")
    print(f"  {os.path.relpath(page)}: screenshot {detail}; {len(expected)} values checked in the DOM")
    os.remove(shot)
    return problems


def main(reports, db):
    con = sqlite3.connect(db)
    studies = con.execute("""SELECT study_instance_uid, probability, decision, finding FROM study_results
                             ORDER BY probability DESC""").fetchall()
    if not studies:
        sys.exit("check-reports: no scored studies in the index")
    single = [(u, p, d) for u, p, d, f in studies if f == ""]
    multi = [(u, p, d, f) for u, p, d, f in studies if f != ""]
    # Single-label heads: each study's probability; multi-label heads: the findings decided present
    # ("Name 0.87"), or "no finding present".
    index_expected = sorted({u for u, _, _, _ in studies}) + [f"{p:.4f}" for _, p, _ in single] \
        + [f"{f} {p:.2f}" for _, p, d, f in multi if d == "present"]
    if multi and any(not any(d == "present" for u2, _, d, _ in multi if u2 == u) for u, _, _, _ in multi):
        index_expected.append("no finding present")
    problems = []
    with tempfile.TemporaryDirectory() as work:
        problems += check(os.path.join(reports, "index.html"), index_expected, work)
        uid, p, decision, finding = studies[0]
        folder = next(f for f in os.listdir(reports) if os.path.exists(os.path.join(reports, f, "result.json"))
                      and json.load(open(os.path.join(reports, f, "result.json")))["study_instance_uid"] == uid)
        rows = con.execute("""SELECT i.sop_instance_uid, r.probability, r.finding FROM results r
                              JOIN instances i ON i.id = r.instance_ref
                              WHERE i.study_instance_uid = ? AND r.status = 'scored'""", (uid,)).fetchall()
        expected = [uid, f"{p:.4f}", "not for clinical use"] + [s for s, _, _ in rows] + [f"{q:.4f}" for _, q, _ in rows]
        if finding == "":
            expected += [decision, f"Evidence for {decision}"]
        else:
            # Every finding of the study by name, and the heatmap's caption naming the top one.
            expected += sorted({f for _, _, f in rows}) + ["Evidence for "]
        problems += check(os.path.join(reports, folder, "report.html"), expected, work)
    for problem in problems:
        print("FAIL", problem)
    print(f"check-reports: {2 - len({x.split(':')[0] for x in problems})} of 2 pages passed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
