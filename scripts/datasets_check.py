#!/usr/bin/env python3
"""Loads every research export in a directory the way researchers will, and checks it.

Usage: datasets_check.py DIR

DIR holds files written by `server export --out FILE` (each with FILE.manifest.json beside it),
in any schema and format. For each file:

- its SHA-256 and row count are the manifest's;
- pandas (`read_json(lines=True)`, `read_csv`, `read_parquet`), pyarrow (`json.read_json`,
  `csv.read_csv`, `parquet.read_table`) and Hugging Face `datasets.load_dataset("json" | "csv" |
  "parquet", data_files=...)` load it, with the manifest's row count and the schema's key columns
  (offline: HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1, set here before datasets is imported);
- the key columns hold the same values, in the same order, in every format of the schema;
- a Parquet file's rows (pyarrow) equal the JSONL file's rows (the json module), value for value,
  nested conversations and metadata included, and its columns are typed (no null-typed column).

Prints one line per file and loader, then 'N passed, N failed'; exits 1 on any failure.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Offline, with a throwaway cache: nothing is fetched, nothing is left behind.
CACHE = tempfile.mkdtemp(prefix="arena-datasets-check-")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HOME", CACHE)

import datasets  # noqa: E402
import pandas  # noqa: E402
import pyarrow  # noqa: E402
import pyarrow.csv  # noqa: E402
import pyarrow.json  # noqa: E402
import pyarrow.parquet  # noqa: E402

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()

# The columns every file of a schema must have, compared across formats.
KEY_COLUMNS = {
    "chatbot_arena_conversations": ["question_id", "model_a", "model_b", "winner", "judge"],
    "arena_human_preference_100k": ["question_id", "model_a", "model_b", "winner", "judge_hash"],
    "arena_human_preference_140k": ["id", "model_a", "model_b", "winner", "evaluation_order"],
    "kaggle_55k": ["id", "model_a", "model_b", "winner_model_a", "winner_tie"],
    "ebaluatoia": ["id", "model_a", "model_b", "winner", "username"],
    "dpo": ["prompt", "chosen", "rejected"],
    "full": ["vote_id", "battle_id", "model_a", "model_b", "winner", "voter"],
}


def text(v):
    """A key value as text, the same whatever the loader's type inference made of it."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def keys_of(columns, schema, get):
    return {c: [text(v) for v in get(c)] for c in KEY_COLUMNS[schema] if c in columns}


def pandas_load(path, fmt):
    if fmt == "jsonl":
        frame = pandas.read_json(path, lines=True, dtype=False)
    elif fmt == "csv":
        frame = pandas.read_csv(path, dtype=str, keep_default_na=False)
    else:
        frame = pandas.read_parquet(path)
    return len(frame), list(frame.columns), lambda c: frame[c].tolist()


def pyarrow_load(path, fmt):
    if fmt == "jsonl":
        table = pyarrow.json.read_json(path)
    elif fmt == "csv":
        table = pyarrow.csv.read_csv(path)
    else:
        table = pyarrow.parquet.read_table(path)
    return table.num_rows, table.column_names, lambda c: table.column(c).to_pylist()


def datasets_load(path, fmt, cache):
    builder = {"jsonl": "json", "csv": "csv", "parquet": "parquet"}[fmt]
    ds = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache)
    return ds.num_rows, ds.column_names, lambda c: ds[c]


class Check:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name}: {detail}")


def main(directory):
    check = Check()
    manifests = sorted(Path(directory).glob("*.manifest.json"))
    if not manifests:
        print(f"no *.manifest.json in {directory}", file=sys.stderr)
        return 2
    # schema -> format -> key columns' values (from pandas), to compare across formats
    seen = {}
    cache = os.path.join(CACHE, "datasets")
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        path = manifest_path.with_name(manifest_path.name[: -len(".manifest.json")])
        schema, fmt, rows = manifest["schema"], manifest["format"], manifest["rows"]
        print(f"{path.name}: {schema} as {fmt}, {rows} rows")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        check(f"{path.name} sha256", digest == manifest["sha256"], f"{digest} != manifest")
        loaders = [
            ("pandas", lambda p, f: pandas_load(p, f)),
            ("pyarrow", lambda p, f: pyarrow_load(p, f)),
            ("datasets", lambda p, f: datasets_load(p, f, cache)),
        ]
        for name, load in loaders:
            label = f"{path.name} {name}"
            if rows == 0 and (fmt != "parquet" or name == "datasets"):
                # An empty JSONL or CSV file has no columns to infer, and datasets finds no split
                # in an empty file of any format: some loaders refuse them. (An empty Parquet file
                # keeps its typed columns: pandas and pyarrow must read it.)
                try:
                    n, _, _ = load(path, fmt)
                    check(f"{label} (empty)", n == 0, f"{n} rows")
                except Exception as e:  # noqa: BLE001
                    print(f"  skip  {label}: empty file ({type(e).__name__})")
                continue
            try:
                n, columns, get = load(path, fmt)
            except Exception as e:  # noqa: BLE001
                check(label, False, f"{type(e).__name__}: {e}")
                continue
            missing = [c for c in KEY_COLUMNS[schema] if c not in columns]
            check(f"{label} rows", n == rows, f"{n} rows, the manifest says {rows}")
            check(f"{label} key columns", not missing, f"missing {missing}")
            keys = keys_of(columns, schema, get)
            if name == "pandas":
                seen.setdefault(schema, {})[fmt] = keys
            else:
                same = keys == seen.get(schema, {}).get(fmt, keys)
                check(f"{label} key values as pandas'", same, "they differ")
        if fmt == "parquet":
            table = pyarrow.parquet.read_table(path)
            untyped = [f.name for f in table.schema if pyarrow.types.is_null(f.type)]
            check(f"{path.name} typed columns", not untyped, f"null-typed: {untyped}")
            meta = pyarrow.parquet.ParquetFile(path).metadata
            codec = meta.row_group(0).column(0).compression if meta.num_row_groups else "SNAPPY"
            check(f"{path.name} compressed", codec == "SNAPPY", codec)
            jsonl = path.with_suffix(".jsonl")
            if jsonl.exists():
                expected = [json.loads(line) for line in jsonl.read_text().splitlines()]
                check(
                    f"{path.name} rows == {jsonl.name} rows",
                    table.to_pylist() == expected,
                    "the values differ",
                )
    for schema, formats in sorted(seen.items()):
        first_fmt, first = next(iter(formats.items()))
        for fmt, keys in formats.items():
            check(
                f"{schema}: {fmt} key values == {first_fmt} key values",
                keys == first,
                "they differ",
            )
    print(f"{check.passed} passed, {check.failed} failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        status = main(sys.argv[1])
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
    sys.exit(status)
