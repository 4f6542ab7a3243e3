#!/usr/bin/python3
"""Builds netem/pages/news/: a news-site-like page of ~1.5 MB with tens of subresources.

Deterministic (fixed seed, fixed crops), so a re-run reproduces the committed files. Needs
python3-pil and python3-skimage (Debian). Image sources and licences: ASSETS.md.
Usage: make_pages.py [OUT_DIR]   (default: news/ next to this script)
"""
import os
import random
import sys

from PIL import Image

DATA = "/usr/lib/python3/dist-packages/skimage/data"
SOURCES = ["chelsea.png", "coffee.png", "astronaut.png", "hubble_deep_field.jpg"]


def crop(img, rnd, w, h):
    scale = max(w / img.width, h / img.height) * rnd.uniform(1.0, 1.6)
    big = img.resize((max(w, int(img.width * scale)), max(h, int(img.height * scale))),
                     Image.LANCZOS)
    x = rnd.randint(0, big.width - w)
    y = rnd.randint(0, big.height - h)
    return big.crop((x, y, x + w, y + h))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "news")
    os.makedirs(os.path.join(out, "img"), exist_ok=True)
    os.makedirs(os.path.join(out, "static"), exist_ok=True)
    rnd = random.Random(20240601)
    imgs = [Image.open(os.path.join(DATA, s)).convert("RGB") for s in SOURCES]
    body = []
    # One hero photo, 8 article photos, 20 thumbnails: like a news front page.
    specs = [("hero", 1600, 900, 85)] + [(f"story-{i}", 1000, 563, 82) for i in range(8)] + \
            [(f"thumb-{i}", 240, 160, 75) for i in range(20)]
    for name, w, h, q in specs:
        im = crop(imgs[rnd.randrange(len(imgs))], rnd, w, h)
        path = os.path.join(out, "img", f"{name}.jpg")
        im.save(path, "JPEG", quality=q, optimize=True, progressive=True)
        body.append(f'<figure><img src="img/{name}.jpg" width="{w}" height="{h}" '
                    f'alt="{name}"><figcaption>Photo {name}</figcaption></figure>')
    words = ("network edge cache origin user latency bandwidth mobile page story market city "
             "weather sport health science travel culture").split()

    def text(n):
        return " ".join(rnd.choice(words) for _ in range(n))

    css = "\n".join(f".c{i} {{ margin: {i % 7}px; padding: {i % 5}px; color: #{i * 2654435761 % 0xffffff:06x}; }}"
                    for i in range(900))
    with open(os.path.join(out, "static", "site.css"), "w") as f:
        f.write("body{font-family:sans-serif;max-width:1200px;margin:auto}img{max-width:100%;height:auto}\n" + css)
    for n, size in (("vendor", 1800), ("app", 700)):
        with open(os.path.join(out, "static", f"{n}.js"), "w") as f:
            for i in range(size):
                f.write(f"function f{n}{i}(a,b){{var s='{text(6)}';return a*{i}+b+s.length;}}\n")
    articles = "\n".join(f"<article class=\"c{i}\"><h2>{text(6)}</h2><p>{text(120)}</p>{body[i]}</article>"
                         for i in range(len(body)))
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ghala netem test page: news front</title>
<link rel="stylesheet" href="static/site.css">
<script src="static/vendor.js" defer></script>
<script src="static/app.js" defer></script>
</head><body><h1>The Daily Packet</h1>
{articles}
<footer><a href="/">home</a></footer></body></html>
"""
    with open(os.path.join(out, "index.html"), "w") as f:
        f.write(html)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"{out}: {len(specs) + 4} files, {total} bytes")


if __name__ == "__main__":
    main()
