#!/usr/bin/env python3
"""Trim Box's published OpenAPI spec to the contract of boxlift's emulator.

Keeps only the operations the emulator serves (OPERATIONS below, one per route in
src/emulator/routes/mod.rs) with their response status codes and response schemas, plus the
component schemas those reach; drops prose (description, example, title, x-box-*), parameters
and request bodies. The output is what tests/contract reads, so CI never needs the full spec.

Source: Box's published OpenAPI spec (box/box-openapi, Apache-2.0; see spec/README.md).

    python3 spec/trim.py [FULL_SPEC] [OUT]

FULL_SPEC defaults to ../shared/box-openapi.json beside the repository, OUT to
spec/box-openapi.trimmed.json. The output is deterministic (sorted keys), so a rerun on the
same input makes no diff.
"""
import json
import os
import sys

# (method, path in Box's spec). The emulator serves the API paths under /2.0 and the upload
# paths under /api/2.0; the spec names both without that prefix.
OPERATIONS = [
    ("post", "/oauth2/token"),
    ("post", "/folders"),
    ("get", "/folders/{folder_id}"),
    ("put", "/folders/{folder_id}"),
    ("delete", "/folders/{folder_id}"),
    ("get", "/folders/{folder_id}/items"),
    ("get", "/folders/trash/items"),
    ("get", "/users/me"),
    ("options", "/files/content"),
    ("post", "/files/content"),
    ("get", "/files/{file_id}"),
    ("put", "/files/{file_id}"),
    ("delete", "/files/{file_id}"),
    ("post", "/files/{file_id}/content"),
    ("post", "/files/{file_id}/copy"),
    ("post", "/files/upload_sessions"),
    ("post", "/files/{file_id}/upload_sessions"),
    ("get", "/files/upload_sessions/{upload_session_id}"),
    ("put", "/files/upload_sessions/{upload_session_id}"),
    ("delete", "/files/upload_sessions/{upload_session_id}"),
    ("get", "/files/upload_sessions/{upload_session_id}/parts"),
    ("post", "/files/upload_sessions/{upload_session_id}/commit"),
    ("get", "/users"),
    ("get", "/users/{user_id}"),
    ("get", "/groups"),
    ("get", "/groups/{group_id}"),
    ("get", "/groups/{group_id}/memberships"),
    ("post", "/collaborations"),
    ("get", "/folders/{folder_id}/collaborations"),
]

# Prose and vendor keys: not part of what a response must look like.
DROP = {"description", "example", "examples", "title", "externalDocs"}
REF = "#/components/schemas/"


def schema(node, refs):
    """A copy of a schema object without prose; collects the names it $refs."""
    if isinstance(node, list):
        return [schema(v, refs) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in DROP or key.startswith("x-"):
            continue
        if key == "$ref":
            refs.add(value[len(REF):])
            out[key] = value
        elif key == "properties":
            # Keys here are property names (a File has a property called `tags`): keep them all.
            out[key] = {name: schema(sub, refs) for name, sub in value.items()}
        elif key == "enum":
            out[key] = value
        else:
            out[key] = schema(value, refs)
    return out


def response(resp, refs):
    """Status entry: its JSON schema if any, and the names of its headers."""
    out = {}
    content = resp.get("content", {})
    for media, body in content.items():
        if "schema" in body:
            out.setdefault("content", {})[media] = {"schema": schema(body["schema"], refs)}
    if resp.get("headers"):
        out["headers"] = {name: {} for name in sorted(resp["headers"])}
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "box-openapi.json")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "box-openapi.trimmed.json")
    with open(src, encoding="utf-8") as f:
        full = json.load(f)
    refs = set()
    paths = {}
    for method, path in OPERATIONS:
        op = full["paths"][path][method]
        paths.setdefault(path, {})[method] = {
            "operationId": op["operationId"],
            "responses": {code: response(r, refs) for code, r in op["responses"].items()},
        }
    schemas = {}
    todo = sorted(refs)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        found = set()
        schemas[name] = schema(full["components"]["schemas"][name], found)
        todo.extend(sorted(found - set(schemas)))
    info = full["info"]
    trimmed = {
        "openapi": full["openapi"],
        "info": {
            "title": info["title"] + " (trimmed to boxlift's emulator routes)",
            "version": info["version"],
            "license": info["license"],
            "x-box-commit-hash": info.get("x-box-commit-hash"),
            "x-source": "https://github.com/box/box-openapi (openapi.json)",
            "x-trimmed-by": "spec/trim.py",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(trimmed, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{dst}: {len(OPERATIONS)} operations, {len(schemas)} schemas")


if __name__ == "__main__":
    main()
