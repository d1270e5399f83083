#!/usr/bin/env python3
"""Renders a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

Usage: ansi2png.py CAPTURE.txt OUT.png [COLUMNS ROWS]
Needs Pillow and DejaVu Sans Mono (Debian: fonts-dejavu-core).
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BG = (24, 26, 33)
FG = (215, 218, 224)
BASE = [
    (40, 42, 54), (224, 108, 117), (152, 195, 121), (229, 192, 123),
    (97, 175, 239), (198, 120, 221), (86, 182, 194), (200, 204, 212),
    (110, 115, 130), (240, 128, 128), (170, 220, 140), (240, 210, 140),
    (130, 190, 250), (215, 150, 235), (110, 200, 210), (240, 242, 246),
]


def xterm(n):
    if n < 16:
        return BASE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def parse(text, cols, rows):
    grid = []
    sgr = re.compile(r"\x1b\[([0-9;]*)m")
    for line in text.split("\n")[:rows]:
        style = {"fg": None, "bg": None, "bold": False, "dim": False, "rev": False, "ul": False}
        cells = []
        pos = 0
        for m in sgr.finditer(line):
            for ch in line[pos:m.start()]:
                cells.append((ch, dict(style)))
            pos = m.end()
            params = [int(p) if p else 0 for p in m.group(1).split(";")] if m.group(1) else [0]
            i = 0
            while i < len(params):
                p = params[i]
                if p == 0:
                    style = {"fg": None, "bg": None, "bold": False, "dim": False, "rev": False, "ul": False}
                elif p == 1:
                    style["bold"] = True
                elif p == 2:
                    style["dim"] = True
                elif p == 4:
                    style["ul"] = True
                elif p == 7:
                    style["rev"] = True
                elif p == 22:
                    style["bold"] = style["dim"] = False
                elif p == 24:
                    style["ul"] = False
                elif p == 27:
                    style["rev"] = False
                elif 30 <= p <= 37:
                    style["fg"] = BASE[p - 30]
                elif 90 <= p <= 97:
                    style["fg"] = BASE[p - 90 + 8]
                elif 40 <= p <= 47:
                    style["bg"] = BASE[p - 40]
                elif 100 <= p <= 107:
                    style["bg"] = BASE[p - 100 + 8]
                elif p == 39:
                    style["fg"] = None
                elif p == 49:
                    style["bg"] = None
                elif p in (38, 48) and i + 1 < len(params):
                    key = "fg" if p == 38 else "bg"
                    if params[i + 1] == 5 and i + 2 < len(params):
                        style[key] = xterm(params[i + 2])
                        i += 2
                    elif params[i + 1] == 2 and i + 4 < len(params):
                        style[key] = tuple(params[i + 2:i + 5])
                        i += 4
                i += 1
        for ch in line[pos:]:
            cells.append((ch, dict(style)))
        grid.append(cells[:cols])
    return grid


def main():
    src, out = sys.argv[1], sys.argv[2]
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    rows = int(sys.argv[4]) if len(sys.argv) > 4 else 36
    text = open(src, encoding="utf-8").read()
    grid = parse(text, cols, rows)
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(FONT_BOLD, SIZE)
    cw = int(round(font.getlength("M")))
    ch = SIZE + 5
    pad = 12
    img = Image.new("RGB", (cols * cw + 2 * pad, rows * ch + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for y, cells in enumerate(grid):
        for x, (c, st) in enumerate(cells):
            fg = st["fg"] or FG
            bg = st["bg"]
            if st["dim"]:
                fg = tuple(int(v * 0.6 + b * 0.4) for v, b in zip(fg, BG))
            if st["rev"]:
                fg, bg = (bg or BG), fg
            px, py = pad + x * cw, pad + y * ch
            if bg:
                draw.rectangle([px, py, px + cw - 1, py + ch - 1], fill=bg)
            if c.strip():
                draw.text((px, py + 2), c, font=bold if st["bold"] else font, fill=fg)
            if st["ul"]:
                draw.line([px, py + ch - 2, px + cw - 1, py + ch - 2], fill=fg)
    img.save(out)


if __name__ == "__main__":
    main()
