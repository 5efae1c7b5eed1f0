#!/usr/bin/env python3
"""Test accuracy against the kept fraction k, one line per init, from runs/results.csv files
of `workbench edge-popup` (columns as the original's results.csv). Writes an SVG (no
plotting library needed) and prints the Markdown table of docs/edge-popup.md.

    python3 scripts/plots/edge-popup-plot.py runs/results.csv docs/edge-popup-fc.svg
"""
import csv
import sys


def read(path):
    rows = {}
    with open(path) as f:
        for r in csv.reader(f, skipinitialspace=True):
            if not r or r[0] == "Date Finished":
                continue
            name, k, acc, best = r[2], float(r[3]), float(r[4]), float(r[6])
            rows.setdefault(name, {})[k] = (acc, best)
    return rows


def svg(rows, out):
    w, h, left, right, top, bottom = 640, 400, 60, 170, 20, 50
    accs = [a for v in rows.values() for a, _ in v.values()]
    lo, hi = max(0.0, min(accs) - 2), min(100.0, max(accs) + 1)
    x = lambda k: left + (k - 0.0) / 1.0 * (w - left - right)
    y = lambda a: top + (hi - a) / (hi - lo) * (h - top - bottom)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    p = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>']
    for i in range(11):
        k = i / 10
        p.append(f'<line x1="{x(k):.1f}" y1="{h - bottom}" x2="{x(k):.1f}" y2="{h - bottom + 4}" stroke="black"/>')
        p.append(f'<text x="{x(k):.1f}" y="{h - bottom + 17}" text-anchor="middle">{k:.1f}</text>')
    step = 1 if hi - lo <= 12 else 2 if hi - lo <= 25 else 5
    a = int(lo) + 1
    while a <= hi:
        p.append(f'<line x1="{left}" y1="{y(a):.1f}" x2="{w - right}" y2="{y(a):.1f}" stroke="#ddd"/>')
        p.append(f'<text x="{left - 6}" y="{y(a) + 4:.1f}" text-anchor="end">{a}</text>')
        a += step
    p.append(f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" stroke="black"/>')
    p.append(f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">k, the fraction of weights kept (--prune-rate)</text>')
    p.append(f'<text transform="translate(16,{(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">final test accuracy (%)</text>')
    for i, (name, v) in enumerate(sorted(rows.items())):
        c = colours[i % len(colours)]
        pts = sorted(v.items())
        if len(pts) == 1:  # the dense baseline: a horizontal line
            acc = pts[0][1][0]
            p.append(f'<line x1="{left}" y1="{y(acc):.1f}" x2="{w - right}" y2="{y(acc):.1f}" stroke="{c}" stroke-dasharray="6,4"/>')
        else:
            path = " ".join(f"{x(k):.1f},{y(a):.1f}" for k, (a, _) in pts)
            p.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
            for k, (a, _) in pts:
                p.append(f'<circle cx="{x(k):.1f}" cy="{y(a):.1f}" r="3" fill="{c}"/>')
        ly = top + 16 + 18 * i
        p.append(f'<line x1="{w - right + 10}" y1="{ly - 4}" x2="{w - right + 30}" y2="{ly - 4}" stroke="{c}" stroke-width="2"/>')
        p.append(f'<text x="{w - right + 35}" y="{ly}">{name}</text>')
    p.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(p) + "\n")


def table(rows):
    """Final test Acc@1 per run and k; a dense run (one line, every weight kept) in its own column."""
    ks = sorted({k for v in rows.values() if len(v) > 1 for k in v})
    print("| run | " + " | ".join(f"k = {k}" for k in ks) + " | dense |")
    print("|---|" + "---|" * (len(ks) + 1))
    for name, v in sorted(rows.items()):
        if len(v) == 1:
            print(f"| {name} | " + " | " * len(ks) + f"{list(v.values())[0][0]:.2f} |")
        else:
            print(f"| {name} | " + " | ".join(f"{v[k][0]:.2f}" if k in v else "" for k in ks) + " | |")


if __name__ == "__main__":
    rows = read(sys.argv[1])
    svg(rows, sys.argv[2])
    table(rows)
