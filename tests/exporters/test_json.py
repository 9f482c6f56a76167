"""JSON export: schema-valid and lossless."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jsonschema
from helpers import vrift
from vrift_export_json import JsonExporter, schema_path
from vrift_profile import load, load_json, read_profile


def test_export_validates_against_the_published_schema(sample_session: Path):
    data = json.loads(vrift("profile", "export", "--path", str(sample_session)).stdout)
    schema = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)
    assert data["syscalls"]["stat"]["calls"] == 300
    assert data["syscalls"]["lstat"]["enoent"] == 40


def test_round_trip_gives_an_equal_snapshot(sample_session: Path, tmp_path: Path):
    snap = read_profile(sample_session)
    out = tmp_path / "s.json"
    JsonExporter().export(snap, argparse.Namespace(output=str(out), compact=False))
    assert load_json(out) == snap
    assert load(out) == snap  # load() tells JSON from a session file


def test_compact_and_atomic_file_output(sample_session: Path, tmp_path: Path):
    out = tmp_path / "o.json"
    vrift("profile", "export", "--path", str(sample_session), "--compact", "-o", str(out))
    text = out.read_text()
    assert text.count("\n") == 1 and json.loads(text)["format_version"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
