#!/usr/bin/env python3
"""Writes a spec with N resources (default 200) for timing `shopgen build` at scale.

Each resource has six fields of different types; every other resource belongs to
the one before it, so the spec also exercises relations, nested routes and embeds.
Usage: many_resources.py [N] > /tmp/many.toml
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
out = ['[service]\nname = "many-api"\n\n[gcp]\nproject = "acme-many"\nregion = "europe-west2"\n'
       'cluster = { name = "many", location = "europe-west2" }\n']
for i in range(n):
    out.append(f'\n[resources.item{i}]\n')
    if i % 2 == 1:
        out.append(f'belongs_to.item{i-1} = {{ on_delete = "cascade" }}\n')
    out.append('fields.title = { type = "string", max_length = 120 }\n'
               'fields.price = { type = "decimal", precision = 10, scale = 2, min = "0" }\n'
               'fields.rate = { type = "integer", min = 1, max = 5 }\n'
               'fields.note = { type = "text", required = false }\n'
               'fields.active = { type = "boolean", default = true }\n'
               'fields.status = { type = "enum", values = ["draft", "live"], default = "draft" }\n')
    if i % 3 == 0:
        out.append('routes = { list = "public", get = "public" }\n')
print("".join(out), end="")
