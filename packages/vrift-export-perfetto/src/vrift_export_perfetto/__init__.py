"""vrift exporter: the session as a Perfetto trace (docs/perfetto.md).

    vrift profile export --format perfetto -o build.pftrace

A TrackEvent protobuf trace, written with the protos the `perfetto`
package ships (imported in export() only: discovering formats and
`vrift profile show` never load them):

- a track per process image (format 1.5), nested under its parent's
  image, holding one slice for its life; the slice's arguments are its
  command line, working directory, exit status, how its end was seen,
  and its file-system calls, errors and time per operation, plus the
  VFS handled/passthrough counts;
- a counter track of the processes alive;
- when `vrift profile run` sampled the session (SESSION.samples),
  counter tracks of calls per second and file-system time per second.
"""

from __future__ import annotations

import argparse

from vrift_profile import Exporter, ExportError, Snapshot, hookimpl, write_output

from .trace import build_trace


class PerfettoExporter(Exporter):
    name = "perfetto"
    description = "Perfetto trace (protobuf): process timeline with file-system calls per process"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--no-samples",
            action="store_true",
            help="leave out the calls/s and fs time/s tracks even when samples exist",
        )

    def export(self, snapshot: Snapshot, options: argparse.Namespace) -> None:
        if not snapshot.images:
            raise ExportError(
                f"no process images in this profile (format {snapshot.session.format_version}; "
                "the timeline needs a session recorded by vrift with format 1.5 or later)"
            )
        samples = []
        if not getattr(options, "no_samples", False):
            from vrift_profile.samples import read_samples

            samples = read_samples(snapshot.session.path)
        write_output(build_trace(snapshot, samples), options.output)


@hookimpl
def vrift_exporters() -> list[Exporter]:
    return [PerfettoExporter()]
