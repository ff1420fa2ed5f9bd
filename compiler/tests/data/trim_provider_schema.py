#!/usr/bin/env python3
"""Maintenance tool (not run by the tests): writes the trimmed provider schema that
tests/infra_terraform.rs checks generated Terraform against.

Input: a full schema JSON in the format of `tfschema_check.py extract` (resource type
-> provider -> {"a": attributes, "b": nested blocks, "r": required}) and directories of
generated .tf files. Output: the same format, holding only the resource and data types
those files use; at every level all attributes and required names are kept, and of the
nested blocks only those the files use (plus required ones, without their children).

  python3 trim_provider_schema.py FULL.json OUT.json generated/*/terraform /tmp/variant/terraform ...

Needs python-hcl2 (pip install python-hcl2).
"""
import glob
import json
import os
import sys

import hcl2

INTERNAL = {"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"}


def unq(s):
    return s[1:-1] if isinstance(s, str) and len(s) >= 2 and s[0] == s[-1] == '"' else s


def is_block(v):
    return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def used_paths(body, prefix, out):
    for key, val in body.items():
        if key in INTERNAL or key in ("lifecycle", "depends_on", "provider", "count", "for_each"):
            continue
        if is_block(val):
            out.add(prefix + (key,))
            for sub in val:
                used_paths(sub, prefix + (key,), out)


def trim(node, path, used):
    out = {"a": node["a"], "b": {}}
    if node.get("r"):
        out["r"] = node["r"]
    for name, sub in node["b"].items():
        p = path + (name,)
        if p in used:
            out["b"][name] = trim(sub, p, used)
        elif name in node.get("r", []):
            out["b"][name] = {"a": sub["a"], "b": {}, **({"r": sub["r"]} if sub.get("r") else {})}
    return out


def main():
    full_path, out_path, *dirs = sys.argv[1:]
    full = json.load(open(full_path))
    used = {"resource": {}, "data": {}}
    for d in dirs:
        for f in sorted(glob.glob(os.path.join(d, "*.tf"))):
            doc = hcl2.loads(open(f).read())
            for section in ("resource", "data"):
                for entry in doc.get(section, []) or []:
                    for rtype, named in entry.items():
                        rtype = unq(rtype)
                        if not rtype.startswith("google_"):
                            continue
                        for _name, body in named.items():
                            used[section].setdefault(rtype, set())
                            used_paths(body, (), used[section][rtype])
    schema = {"providers": full["providers"], "resource": {}, "data": {}}
    for section in ("resource", "data"):
        for rtype, paths in sorted(used[section].items()):
            entry = full[section].get(rtype)
            if entry is None:
                raise SystemExit(f"{section} {rtype} is not in {full_path}")
            schema[section][rtype] = {prov: trim(node, (), paths) for prov, node in entry.items()}
    with open(out_path, "w") as f:
        json.dump(schema, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {out_path}: {len(schema['resource'])} resources, {len(schema['data'])} data sources")


if __name__ == "__main__":
    main()
