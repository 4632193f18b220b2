#!/usr/bin/env python3
"""Draws Wayfarer's app icons (a white map pin with a coral centre on a teal square) as PNGs.

Standard library only (zlib + struct): each pixel is the average of 4x4 samples of simple shapes,
so edges are smooth. Deterministic; re-running rewrites icon-192.png and icon-512.png byte for byte.

Usage: python3 demo-pwa/icons/make_icons.py
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BACKGROUND = (15, 92, 99)      # --brand
PIN = (255, 255, 255)
HOLE = (194, 65, 12)           # --accent
SAMPLES = 4


def shade(x, y):
    """Colour at (x, y) in the unit square (y down); full-bleed, so the icon is also maskable."""
    # Pin: a circle (centre cx, cy, radius pr) joined to a point below it.
    cx, cy, pr = 0.5, 0.42, 0.2
    tip_y = 0.82
    dx, dy = x - cx, y - cy
    d = math.hypot(dx, dy)
    if d <= 0.085:
        return HOLE
    in_pin = d <= pr
    if not in_pin and cy <= y <= tip_y:
        # Tangent lines from the tip to the circle bound the pin's lower part.
        dist_tip = tip_y - cy
        half = math.asin(pr / dist_tip)
        angle = math.atan2(abs(dx), tip_y - y)
        in_pin = angle <= half and y >= cy + pr * pr / dist_tip  # below the tangent points
    if in_pin:
        return PIN
    return BACKGROUND


def render(size):
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            acc = [0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    c = shade((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size)
                    for i in range(3):
                        acc[i] += c[i]
            n = SAMPLES * SAMPLES
            row += bytes(round(a / n) for a in acc)
        rows.append(bytes(row))
    return b"".join(rows)


def png(size, pixels):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(pixels, 9)) + chunk(b"IEND", b""))


def main():
    for size in (192, 512):
        path = os.path.join(HERE, f"icon-{size}.png")
        with open(path, "wb") as f:
            f.write(png(size, render(size)))
        print(path)


if __name__ == "__main__":
    main()
