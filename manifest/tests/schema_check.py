#!/usr/bin/env python3
"""Validates catalog documents against the schema their `schema` field names:
manifest/schema/catalog.v2.schema.json (what vodpipe writes now) or catalog.v1.schema.json
(titles published before).

Usage: python3 manifest/tests/schema_check.py [catalog.json ...]

Without arguments it checks every fixtures/golden/*/catalog.json and the v1 example
(manifest/tests/catalog-v1-example.json, a title as published under v1), and also that the
current schema rejects a few broken variants of the first golden one (so a schema that
accepts anything fails).
Needs the `jsonschema` package (python3 -m pip install jsonschema); it is used with its
Draft 2020-12 validator and format checking (published_at must be a date-time).
Exits non-zero if anything fails; the last line reads "N passed, N failed".
"""

import copy
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("schema_check: the jsonschema package is missing: python3 -m pip install jsonschema")

# Older jsonschema releases (Debian 12 ships 4.10) may lack the per-draft attribute.
FORMAT_CHECKER = getattr(jsonschema.Draft202012Validator, "FORMAT_CHECKER", None) or jsonschema.FormatChecker()

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = {
    "vodpipe.catalog/v1": HERE.parent / "schema" / "catalog.v1.schema.json",
    "vodpipe.catalog/v2": HERE.parent / "schema" / "catalog.v2.schema.json",
}
CURRENT = "vodpipe.catalog/v2"
GOLDEN = HERE.parent.parent / "fixtures" / "golden"
V1_EXAMPLE = HERE / "catalog-v1-example.json"


def validator(version=CURRENT):
    schema = json.loads(SCHEMAS[version].read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def broken_variants(doc):
    """(description, document) pairs the schema must reject."""
    def edit(desc, fn):
        d = copy.deepcopy(doc)
        fn(d)
        return desc, d

    return [
        edit("unknown top-level field", lambda d: d.__setitem__("surprise", 1)),
        edit("unknown chunk field", lambda d: d["renditions"][0]["chunks"][0].__setitem__("x", 1)),
        edit("missing fingerprint", lambda d: d.pop("fingerprint")),
        edit("wrong schema version", lambda d: d.__setitem__("schema", "vodpipe.catalog/v1")),
        edit("unknown subtitles field", lambda d: d.__setitem__("subtitles", [{"id": "subs_en", "x": 1}])),
        edit("absolute I-frame playlist", lambda d: d["renditions"][0].__setitem__("iframe_playlist", "https://x/i.m3u8")),
        edit("upper-case digest", lambda d: d.__setitem__("fingerprint", d["fingerprint"].upper())),
        edit("absolute chunk uri", lambda d: d["renditions"][0]["chunks"][0].__setitem__("uri", "s3://b/x.m4s")),
        edit("video without width", lambda d: d["renditions"][0].pop("width")),
        edit("frame rate as a number", lambda d: d["renditions"][0].__setitem__("frame_rate", 29.97)),
        # Only enforced where jsonschema can check date-times (rfc3339-validator installed).
        *([edit("published_at not a date-time", lambda d: d.__setitem__("published_at", "yesterday"))]
          if "date-time" in FORMAT_CHECKER.checkers else []),
        edit("chunk index 0", lambda d: d["renditions"][0]["chunks"][0].__setitem__("index", 0)),
    ]


def main(argv):
    validators = {version: validator(version) for version in SCHEMAS}
    v = validators[CURRENT]
    if "date-time" not in FORMAT_CHECKER.checkers:
        print("note: date-time formats are not checked (python3 -m pip install rfc3339-validator)")
    paths = [pathlib.Path(a) for a in argv] or sorted(GOLDEN.glob("*/catalog.json")) + [V1_EXAMPLE]
    if not paths:
        sys.exit(f"schema_check: no catalog.json under {GOLDEN}")
    passed = failed = 0
    for path in paths:
        doc = json.loads(path.read_text())
        version = doc.get("schema") if isinstance(doc, dict) else None
        if version not in validators:
            failed += 1
            print(f"FAIL {path}: schema {version!r} is none of {sorted(validators)}")
            continue
        errors = sorted(validators[version].iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            failed += 1
            print(f"FAIL {path}")
            for e in errors:
                print(f"  at /{'/'.join(map(str, e.path))}: {e.message}")
        else:
            passed += 1
            print(f"ok   {path}")
    if not argv:
        for desc, doc in broken_variants(json.loads(paths[0].read_text())):
            if v.is_valid(doc):
                failed += 1
                print(f"FAIL schema accepts a broken document: {desc}")
            else:
                passed += 1
                print(f"ok   rejects: {desc}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
