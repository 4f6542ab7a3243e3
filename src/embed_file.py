#!/usr/bin/env python3
"""Turns a text file into a C++ raw string constant (used to embed config/ghala.yaml)."""
import sys

src, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
with open(src, encoding="utf-8") as f:
    text = f.read()
delim = "GHALA_EMBED"
assert f'){delim}"' not in text
with open(out, "w", encoding="utf-8") as f:
    f.write(f'// Generated from {src} by embed_file.py; do not edit.\n')
    f.write(f'inline constexpr const char {name}[] = R"{delim}({text}){delim}";\n')
