"""The per-user history of finished sessions, in SQLite (the stdlib's sqlite3).

Where: $VRIFT_HISTORY names the database file ("off" turns recording
off); otherwise history.sqlite3 in vrift's per-user state directory, the
one VFS projections are registered in (vrift_vfs.store.state_root():
$VRIFT_STATE, else $XDG_STATE_HOME/vrift, i.e. ~/.local/state/vrift).

A record is written when `vrift profile stop` stops a session and when
`vrift profile run` ends. Builds stop concurrently, so: WAL mode (readers
never wait for the writer), one BEGIN IMMEDIATE transaction per run, and
a bounded busy timeout. A database that stays locked longer, or is
damaged, costs the record (one line on stderr), never the build.

The schema is versioned by PRAGMA user_version (see MIGRATIONS). A database from a newer vrift is refused
rather than guessed at.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

from vrift_profile import ProfileError

from .run_record import OpTotals, RunRecord

ENV_HISTORY = "VRIFT_HISTORY"
FILE_NAME = "history.sqlite3"
# A record waits at most this long for another writer; then it is dropped.
WRITE_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 1.0

# MIGRATIONS[i]: the statements that take a database from version i to i+1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_ns INTEGER NOT NULL,
            ended_ns INTEGER NOT NULL,
            argv TEXT,                 -- JSON array, NULL for a session stopped with profile stop
            cwd TEXT,
            command_name TEXT,         -- argv[0]'s base name
            exit_status INTEGER,
            source TEXT NOT NULL,      -- 'run' or 'stop'
            session_path TEXT NOT NULL,
            processes INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            enoent INTEGER NOT NULL,
            eacces INTEGER NOT NULL,
            latency_ns INTEGER NOT NULL,
            vfs_handled INTEGER,       -- NULL: no VFS projection in the session
            vfs_passthrough INTEGER,
            time_saved_ns INTEGER,     -- NULL: no estimate
            bytes_read INTEGER NOT NULL,
            bytes_written INTEGER NOT NULL,
            vrift_version TEXT NOT NULL,
            recorded_ns INTEGER NOT NULL,
            UNIQUE (session_path, started_ns)
        )""",
        "CREATE INDEX runs_by_start ON runs (started_ns)",
        "CREATE INDEX runs_by_command ON runs (command_name, cwd, started_ns)",
        """CREATE TABLE run_ops (
            run_id INTEGER NOT NULL, op TEXT NOT NULL,
            calls INTEGER NOT NULL, errors INTEGER NOT NULL, latency_ns INTEGER NOT NULL,
            PRIMARY KEY (run_id, op)
        ) WITHOUT ROWID""",
        """CREATE TABLE run_commands (
            run_id INTEGER NOT NULL, command TEXT NOT NULL, processes INTEGER NOT NULL,
            PRIMARY KEY (run_id, command)
        ) WITHOUT ROWID""",
        """CREATE TABLE run_projections (
            run_id INTEGER NOT NULL, idx INTEGER NOT NULL,
            original_bytes INTEGER NOT NULL, stored_bytes INTEGER NOT NULL,
            PRIMARY KEY (run_id, idx)
        ) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(ProfileError):
    """The history database cannot be used (damaged, locked, newer, unwritable)."""


def history_path() -> Path | None:
    """The database file, or None when recording is turned off."""
    env = os.environ.get(ENV_HISTORY)
    if env:
        return None if env == "off" else Path(env).absolute()
    from vrift_vfs.store import state_root

    return state_root() / FILE_NAME


def _explain(path: Path, e: Exception) -> HistoryError:
    """One line for the user, whatever sqlite3 or the OS said."""
    text = str(e)
    if isinstance(e, OSError):
        return HistoryError(f"{path}: {e.strerror or text}")
    if "locked" in text or "busy" in text:
        return HistoryError(f"{path}: locked by another process (gave up after the bounded wait)")
    if "unable to open" in text:
        return HistoryError(f"{path}: cannot open the database file ({text})")
    if isinstance(e, sqlite3.OperationalError) and "readonly" in text:
        return HistoryError(f"{path}: read-only ({text})")
    return HistoryError(
        f"{path}: damaged or not a vrift history database ({text}); move it aside to start anew"
    )


def _migrate(con: sqlite3.Connection, path: Path) -> None:
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: written by a newer vrift (schema {version}; this vrift knows {SCHEMA_VERSION})"
        )
    con.execute("BEGIN IMMEDIATE")  # one migrator at a time; the others re-read the version
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        for i in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[i]:
                con.execute(statement)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise


def _rollback(con: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):  # the error that got us here is the one to report
        con.execute("ROLLBACK")


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """An open, migrated database (created if missing); HistoryError otherwise."""
    con = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; ours are explicit.
        con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        con.execute("PRAGMA journal_mode = WAL")
        _migrate(con, path)
        return con
    except HistoryError:
        if con is not None:
            con.close()
        raise
    except (sqlite3.Error, OSError) as e:
        if con is not None:
            con.close()
        raise _explain(path, e) from None


def record(rec: RunRecord, path: Path, timeout: float = WRITE_TIMEOUT_S) -> int:
    """Append a run (replacing an earlier record of the same session, e.g.
    a session resumed and stopped again); returns its id."""
    con = connect(path, timeout)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            old = con.execute(
                "SELECT id FROM runs WHERE session_path = ? AND started_ns = ?",
                (rec.session_path, rec.started_ns),
            ).fetchall()
            for (run_id,) in old:
                for table in ("run_ops", "run_commands", "run_projections"):
                    con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            cur = con.execute(
                """INSERT INTO runs (started_ns, ended_ns, argv, cwd, command_name, exit_status, source,
                    session_path, processes, calls, errors, enoent, eacces, latency_ns, vfs_handled,
                    vfs_passthrough, time_saved_ns, bytes_read, bytes_written, vrift_version, recorded_ns)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    rec.started_ns,
                    rec.ended_ns,
                    json.dumps(list(rec.argv)) if rec.argv is not None else None,
                    rec.cwd,
                    rec.command_name,
                    rec.exit_status,
                    rec.source,
                    rec.session_path,
                    rec.processes,
                    rec.calls,
                    rec.errors,
                    rec.enoent,
                    rec.eacces,
                    rec.latency_ns,
                    rec.vfs_handled,
                    rec.vfs_passthrough,
                    rec.time_saved_ns,
                    rec.bytes_read,
                    rec.bytes_written,
                    rec.vrift_version,
                    time.time_ns(),
                ),
            )
            run_id = cur.lastrowid
            assert run_id is not None  # an INSERT always sets it
            con.executemany(
                "INSERT INTO run_ops VALUES (?, ?, ?, ?, ?)",
                [(run_id, op, o.calls, o.errors, o.latency_ns) for op, o in rec.ops.items()],
            )
            con.executemany(
                "INSERT INTO run_commands VALUES (?, ?, ?)",
                [(run_id, c, n) for c, n in rec.commands.items()],
            )
            con.executemany(
                "INSERT INTO run_projections VALUES (?, ?, ?, ?)",
                [(run_id, i, o, s) for i, (o, s) in enumerate(rec.projections)],
            )
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
        return int(run_id)
    except sqlite3.Error as e:
        raise _explain(path, e) from None
    finally:
        con.close()


def record_for_build(rec: RunRecord) -> None:
    """Record a run from a build's path (profile run, profile stop): any
    failure is one line on stderr, never an exception or a changed status."""
    path = history_path()
    if path is None:
        return
    try:
        record(rec, path)
    except HistoryError as e:
        print(f"vrift: history: this run is not recorded: {e}", file=sys.stderr)
    except Exception as e:  # a bug here must not cost the user's build its status
        print(f"vrift: history: this run is not recorded: {type(e).__name__}: {e}", file=sys.stderr)


_COLUMNS = (
    "id, started_ns, ended_ns, argv, cwd, command_name, exit_status, source, session_path, processes, "
    "calls, errors, enoent, eacces, latency_ns, vfs_handled, vfs_passthrough, time_saved_ns, "
    "bytes_read, bytes_written, vrift_version"
)


def _load(con: sqlite3.Connection, where: str, params: tuple, limit: int | None = None) -> list[RunRecord]:
    sql = f"SELECT {_COLUMNS} FROM runs {where} ORDER BY started_ns, id"
    if limit is not None:
        sql = f"SELECT {_COLUMNS} FROM runs {where} ORDER BY started_ns DESC, id DESC LIMIT {int(limit)}"
    rows = con.execute(sql, params).fetchall()
    if limit is not None:
        rows.reverse()
    ids = [r[0] for r in rows]
    ops: dict[int, dict[str, OpTotals]] = {i: {} for i in ids}
    commands: dict[int, dict[str, int]] = {i: {} for i in ids}
    projections: dict[int, list[tuple[int, int]]] = {i: [] for i in ids}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):  # SQLite's variable limit
        marks = ",".join("?" * len(chunk))
        for run_id, op, calls, errors, ns in con.execute(
            f"SELECT run_id, op, calls, errors, latency_ns FROM run_ops WHERE run_id IN ({marks})", chunk
        ):
            ops[run_id][op] = OpTotals(calls, errors, ns)
        for run_id, command, n in con.execute(
            f"SELECT run_id, command, processes FROM run_commands WHERE run_id IN ({marks})", chunk
        ):
            commands[run_id][command] = n
        for run_id, _idx, o, s in con.execute(
            f"SELECT run_id, idx, original_bytes, stored_bytes FROM run_projections "
            f"WHERE run_id IN ({marks}) ORDER BY run_id, idx",
            chunk,
        ):
            projections[run_id].append((o, s))
    out = []
    for r in rows:
        argv = json.loads(r[3]) if r[3] is not None else None
        out.append(
            RunRecord(
                started_ns=r[1],
                ended_ns=r[2],
                argv=tuple(argv) if argv is not None else None,
                cwd=r[4],
                command_name=r[5],
                exit_status=r[6],
                source=r[7],
                session_path=r[8],
                processes=r[9],
                calls=r[10],
                errors=r[11],
                enoent=r[12],
                eacces=r[13],
                latency_ns=r[14],
                vfs_handled=r[15],
                vfs_passthrough=r[16],
                time_saved_ns=r[17],
                projections=tuple(projections[r[0]]),
                bytes_read=r[18],
                bytes_written=r[19],
                vrift_version=r[20],
                ops=ops[r[0]],
                commands=commands[r[0]],
                run_id=r[0],
            )
        )
    return out


def _read(path: Path, timeout: float, query) -> list[RunRecord]:
    if not path.exists():
        return []
    con = connect(path, timeout)
    try:
        return query(con)
    except sqlite3.Error as e:
        raise _explain(path, e) from None
    finally:
        con.close()


def runs(
    path: Path,
    since_ns: int | None = None,
    command: str | None = None,
    last: int | None = None,
    timeout: float = READ_TIMEOUT_S,
) -> list[RunRecord]:
    """Recorded runs, oldest first: started at or after since_ns, of
    `command` (argv[0]'s base name; for a stopped session, which has no
    command line, any of its processes), the `last` most recent."""
    clauses: list[str] = []
    params: list[str | int] = []
    if since_ns is not None:
        clauses.append("started_ns >= ?")
        params.append(since_ns)
    if command is not None:
        clauses.append(
            "(command_name = ? OR (argv IS NULL AND EXISTS "
            "(SELECT 1 FROM run_commands c WHERE c.run_id = runs.id AND c.command = ?)))"
        )
        params += [command, command]
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return _read(path, timeout, lambda con: _load(con, where, tuple(params), last))


def previous_run(path: Path, argv: list[str], cwd: str, timeout: float = READ_TIMEOUT_S) -> RunRecord | None:
    """The latest successful `profile run` of the same command line in the
    same directory: what a progress estimate can compare against."""
    found = _read(
        path,
        timeout,
        lambda con: _load(
            con,
            "WHERE argv = ? AND cwd = ? AND source = 'run' AND exit_status = 0 "
            "AND (calls > 0 OR processes > 0)",
            (json.dumps(list(argv)), cwd),
            limit=1,
        ),
    )
    return found[0] if found else None
