"""The cheap tamper check: one stat per blob, no hashing.

A blob is as ingest left it if its size is the manifest's and its mtime
is still the seal (store.SEAL_NS): a write through any hard link, a
truncate or a replacement moves one of them. `vrift mount` and
`vrift run --vfs` run this; `vrift verify` is the thorough check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .manifest import Manifest
from .store import SEAL_NS, Store


@dataclass
class TamperReport:
    missing: list[str] = field(default_factory=list)  # blob keys
    wrong_size: list[str] = field(default_factory=list)
    unsealed: list[str] = field(default_factory=list)  # right size, mtime moved

    @property
    def changed(self) -> int:
        return len(self.wrong_size) + len(self.unsealed)


def check(store: Store, m: Manifest) -> TamperReport:
    r = TamperReport()
    blobs = str(store.blobs)
    for key, size in m.file_blobs().items():
        try:
            st = os.stat(f"{blobs}/{key[:2]}/{key[2:]}")
        except OSError:
            r.missing.append(key)
            continue
        if st.st_size != size:
            r.wrong_size.append(key)
        elif st.st_mtime_ns != SEAL_NS:
            r.unsealed.append(key)
    return r


def warning(name: str, r: TamperReport) -> list[str]:
    """The lines (without 'vrift: ') a command prints about `r`; [] if all is well."""
    out = []
    if r.changed:
        n = r.changed
        out.append(
            f"warning: {n} blob{'s' if n != 1 else ''} of '{name}' changed outside vrift "
            f"(size or mtime); run 'vrift verify {name}'"
        )
    if r.missing:
        n = len(r.missing)
        out.append(
            f"warning: {n} blob{'s' if n != 1 else ''} of '{name}' missing from the store; "
            f"run 'vrift verify {name}'"
        )
    return out
