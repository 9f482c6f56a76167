"""vrift exporter: the snapshot as versioned JSON.

The shape is Snapshot.to_dict() (format_version, session, syscalls,
cache, io, vfs, errors, processes), described by the JSON Schema shipped
beside this module (schema_path()). Loading the output with
vrift_profile.load_json gives back an equal Snapshot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vrift_profile import Exporter, Snapshot, hookimpl, write_output


def schema_path() -> Path:
    return Path(__file__).resolve().parent / "profile-v1.schema.json"


def dumps(snapshot: Snapshot, indent: bool = True) -> bytes:
    import orjson

    opt = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(snapshot.to_dict(), option=opt | orjson.OPT_APPEND_NEWLINE)


class JsonExporter(Exporter):
    name = "json"
    description = "versioned JSON snapshot (lossless; JSON Schema in vrift_export_json)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--compact", action="store_true", help="one line, no indentation")

    def export(self, snapshot: Snapshot, options: argparse.Namespace) -> None:
        write_output(dumps(snapshot, indent=not options.compact), options.output)


@hookimpl
def vrift_exporters() -> list[Exporter]:
    return [JsonExporter()]
