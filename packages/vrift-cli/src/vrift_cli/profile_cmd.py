"""`vrift profile start|stop|reset|show|export|serve|dashboard|run|...`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vrift_profile import (
    ProfileError,
    ProfileFormatError,
    SessionError,
    UsageError,
    read_header,
    read_profile,
    reset,
    resolve_session,
    set_current,
    set_enabled,
)
from vrift_profile.launch import shim_environment, through_a_follower, warn_if_unseen
from vrift_profile.paths import ENV_PATH, check_parent_dir, current_session, new_session_path
from vrift_profile.writer import create_session

from . import arguments, render, sessions_cmd
from .run_cmd import command_of, launch_failed, loader_flag


def _with_format_options(format_help):
    """`export --help` also lists each installed format's own options
    (loaded only for --help: plain `show` and `export` stay fast)."""

    def help_text() -> str:
        from vrift_profile.exporting import ExporterRegistry

        text = format_help()
        registry = ExporterRegistry()
        for info in registry.formats():
            if info.broken:
                text += f"\nformat {info.name}: broken plugin ({info.broken})\n"
                continue
            extra = argparse.ArgumentParser(prog=f"--format {info.name}", add_help=False)
            registry.get(info.name).add_arguments(extra)
            if extra._actions:
                lines = extra.format_help().splitlines()
                body = lines[lines.index("options:") + 1 :] if "options:" in lines else lines[2:]
                text += f"\noptions of --format {info.name} ({info.description}):\n" + "\n".join(body) + "\n"
        return text

    return help_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile", help="profile sessions: start, show, export, reset, stop, run, ls, clean, history, badge"
    )
    verbs = p.add_subparsers(dest="profile_verb", required=True, parser_class=type(p))

    def verb(name: str, func, help: str) -> argparse.ArgumentParser:
        v = verbs.add_parser(name, help=help)
        v.add_argument("--path", help="session file (default: $VRIFT_PROFILE_PATH, else the current session)")
        v.set_defaults(func=func)
        return v

    v = verb("start", start, "create and activate a new session (--resume: continue the stopped one)")
    v.add_argument("--resume", action="store_true", help="resume the current session if it is stopped")
    v.add_argument("--new", action="store_true", help="create a new session even if one is running")
    v.add_argument(
        "--slots", type=arguments.slots, default=None, help="process-image slots to reserve (default 4096)"
    )
    v.add_argument("--counters-only", action="store_true", help="count calls but read no clock (cheapest)")
    _hot_path_flags(v)
    _exact_timing_flag(v)
    verb("stop", stop, "stop counting (running processes obey at their next call)")
    verb("reset", reset_cmd, "zero all counters of the session")
    sessions_cmd.add_verbs(verbs)
    v = verb("show", show, "print the session's statistics")
    v.add_argument(
        "--hot", type=arguments.count, metavar="N", default=0, help="also list the N hottest paths"
    )
    v.add_argument("--by-command", action="store_true", help="full per-command breakdown")
    v.add_argument("--watch", action="store_true", help="refresh live until Ctrl-C")
    v.add_argument(
        "--interval", type=arguments.seconds, default=1.0, metavar="S", help="seconds between refreshes"
    )
    v.add_argument(
        "--iterations", type=arguments.count, default=None, metavar="N", help="stop --watch after N refreshes"
    )
    v = verb("export", export, "write the session's statistics in a machine format")
    v.add_argument("--format", default="json", help="output format (see --list-formats; default json)")
    v.add_argument("--output", "-o", help="write to FILE (atomically) instead of stdout")
    v.add_argument("--list-formats", action="store_true", help="list installed formats and exit")
    v.set_defaults(accepts_extra=True)  # the chosen exporter parses its own options
    v.format_help = _with_format_options(v.format_help)  # type: ignore[method-assign]  # this parser only
    v = verb("serve", serve, "serve the session as Prometheus /metrics (live)")
    v.add_argument("--port", type=arguments.port, default=9464, help="TCP port (default 9464)")
    v.add_argument("--addr", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    v = verbs.add_parser("dashboard", help="a Grafana dashboard for `serve` scraped by Prometheus (JSON)")
    v.add_argument("--output", "-o", help="write to FILE (atomically) instead of stdout")
    v.set_defaults(func=dashboard)
    v = verb("flamegraph", flamegraph, "folded stacks (command;dir;...;file) and an SVG flame graph")
    v.add_argument("--weight", choices=("time", "calls"), default="time", help="frame width (default time)")
    v.add_argument("--output", "-o", help="folded stacks file (default stdout)")
    v.add_argument("--svg", help="also write a flame graph SVG to this file")
    v = verb("report", report, "a self-contained HTML report")
    v.add_argument("--output", "-o", required=True, help="HTML file to write")
    v = verbs.add_parser("diff", help="compare two profiles (session files or JSON exports)")
    v.add_argument("a", help="baseline profile")
    v.add_argument("b", help="new profile")
    v.add_argument("--format", choices=("text", "json"), default="text")
    v.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="RULE",
        help="exit 1 if RULE holds, e.g. 'time>5%%', 'stat.calls>1000', 'open.p99>20%%'",
    )
    v.set_defaults(func=diff_cmd)
    v = verb("run", profile_run, "run a command in a fresh session and print a summary")
    v.add_argument("--slots", type=arguments.slots, default=None, help="process-image slots to reserve")
    v.add_argument("--counters-only", action="store_true", help="count calls but read no clock")
    _hot_path_flags(v)
    v.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no live progress line on the terminal (the summary is still printed)",
    )
    _exact_timing_flag(v)
    loader_flag(v)
    v.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    v = verbs.add_parser(
        "history",
        help="recorded runs (profile run, profile stop), totals per day and week",
        description="Runs are recorded when `vrift profile run` ends and when `vrift profile stop` stops a "
        "session, in $VRIFT_HISTORY, else history.sqlite3 in $VRIFT_STATE, else in $XDG_STATE_HOME/vrift "
        "(~/.local/state/vrift; "
        "VRIFT_HISTORY=off records nothing). Days and ISO weeks are in local time.",
    )
    v.add_argument(
        "--since",
        type=sessions_cmd.age_seconds,
        metavar="AGE",
        help="only runs started in the last AGE (e.g. 7d)",
    )
    v.add_argument("--command", metavar="NAME", help="only runs of NAME (e.g. make)")
    v.add_argument("--json", action="store_true", help="runs and totals as JSON")
    v.set_defaults(func=_later("history_cmd", "history"))
    v = verbs.add_parser("badge", help="an SVG badge: build time, time saved, dedup")
    v.add_argument("--output", "-o", metavar="FILE", help="SVG file to write (default stdout)")
    v.add_argument(
        "--from",
        dest="source",
        default="history",
        metavar="history|SESSION",
        help="the latest recorded run (default), or a session file or JSON export",
    )
    v.add_argument("--command", metavar="NAME", help="with --from history: the latest run of NAME")
    v.set_defaults(func=_later("badge", "badge"))


def _later(module: str, name: str):
    """A verb whose module is imported only when it runs (`show` starts
    without compiling or loading it)."""

    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        return getattr(import_module(f".{module}", __package__), name)(args)

    return run


def _hot_path_flags(v: argparse.ArgumentParser) -> None:
    g = v.add_mutually_exclusive_group()
    g.add_argument(
        "--hot-paths",
        action="store_true",
        help="record every path call exactly (default: 1 path call in 64, weighted: show --hot, report)",
    )
    g.add_argument("--no-hot-paths", action="store_true", help="record no paths (the cheapest timing mode)")


def _exact_timing_flag(v: argparse.ArgumentParser) -> None:
    v.add_argument(
        "--exact-timing",
        action="store_true",
        help="time every call (default: stat, fstat, read... are timed on a random 1-in-16 sample)",
    )


def _new_session(path: Path, args: argparse.Namespace) -> Path:
    return create_session(
        path,
        args.slots,
        counters_only=args.counters_only,
        hot_paths=False if args.no_hot_paths else (True if args.hot_paths else None),
        exact_timing=args.exact_timing,
    )


def _explicit(args: argparse.Namespace) -> Path | None:
    named = args.path or os.environ.get(ENV_PATH)
    return Path(named).absolute() if named else None


def start(args: argparse.Namespace) -> int:
    explicit = _explicit(args)
    if explicit is not None:
        if explicit.exists():
            was = set_enabled(explicit, True)
            print(f"vrift: session {'already running' if was else 'resumed'}: {explicit}")
        else:
            check_parent_dir(explicit)
            _new_session(explicit, args)
            print(f"vrift: session started: {explicit}")
        return 0
    cur = current_session()
    if cur is not None and cur.exists() and not args.new:
        try:
            running = read_header(cur).enabled
            if running or args.resume:
                set_enabled(cur, True)
                print(f"vrift: session {'already running' if running else 'resumed'}: {cur}")
                return 0
        except (ProfileFormatError, SessionError):
            pass  # the current pointer names a broken file: start afresh
    path = _new_session(new_session_path(), args)
    set_current(path)
    print(f"vrift: session started: {path}")
    print("vrift: run commands with `vrift run -- CMD`; see them with `vrift profile show`")
    return 0


def stop(args: argparse.Namespace) -> int:
    path = resolve_session(args.path)
    was = set_enabled(path, False)
    print(f"vrift: session {'stopped' if was else 'was already stopped'}: {path}")
    if was:  # stopping it again must not count it twice
        from .history import record_for_build
        from .run_record import record_of

        try:
            snap = read_profile(path)
        except ProfileError as e:  # stopped all the same: say why history has no record
            print(f"vrift: history: this session is not recorded: {e}", file=sys.stderr)
            return 0
        record_for_build(record_of(snap, source="stop"))
    return 0


def reset_cmd(args: argparse.Namespace) -> int:
    path = resolve_session(args.path)
    reset(path)
    print(f"vrift: counters reset: {path}")
    return 0


def show(args: argparse.Namespace) -> int:
    path = resolve_session(args.path)
    if args.watch:
        from .watch import watch

        return watch(path, args.interval, args.iterations)
    snap = read_profile(path)
    print(render.render_show(snap, hot=max(0, args.hot), by_command=args.by_command))
    return 0


def export(args: argparse.Namespace, rest: list[str]) -> int:
    from vrift_profile import ExporterRegistry, load

    registry = ExporterRegistry()
    if args.list_formats:
        formats = registry.formats()
        width = max((len(f.name) for f in formats), default=4)
        for f in formats:
            what = f"BROKEN: {f.broken}" if f.broken else f.description
            print(f"{f.name:<{width}}  {what}  [{f.package}]")
        return 0
    exporter = registry.get(args.format)
    parser = arguments.SubParser(prog=f"vrift profile export --format {exporter.name}", add_help=True)
    exporter.add_arguments(parser)
    options = parser.parse_args(rest)
    options.output = args.output
    snap = load(args.path) if args.path else read_profile(resolve_session(None))
    try:
        exporter.export(snap, options)
    except ProfileError:
        raise
    except Exception as e:  # a third-party exporter's bug: one line, not a traceback
        raise ProfileError(f"exporter '{exporter.name}' failed: {type(e).__name__}: {e}") from None
    return 0


def _load_for_view(args: argparse.Namespace):
    from vrift_profile import load

    return load(args.path) if args.path else read_profile(resolve_session(None))


def flamegraph(args: argparse.Namespace) -> int:
    from vrift_profile import write_output
    from vrift_profile.flame import folded_stacks

    from .flamegraph_svg import render_svg

    snap = _load_for_view(args)
    if not snap.hot.paths:
        raise SessionError("no hot paths recorded in this session (nothing to draw)")
    lines = folded_stacks(snap, args.weight)
    write_output(("\n".join(lines) + "\n").encode(), args.output)
    if args.svg:
        unit = "ns" if args.weight == "time" else "calls"
        title = f"vrift: file-system {args.weight} by command and path"
        write_output(render_svg(lines, title, unit).encode(), args.svg)
    return 0


def report(args: argparse.Namespace) -> int:
    from vrift_profile import write_output

    from .report import render_report

    write_output(render_report(_load_for_view(args)).encode(), args.output)
    print(f"vrift: report written: {args.output}")
    return 0


def serve(args: argparse.Namespace) -> int:
    import time

    try:
        from vrift_export_prometheus import serve as serve_metrics
    except ImportError:
        raise SessionError("serve needs the vrift-export-prometheus package") from None
    path = resolve_session(args.path)
    try:
        server = serve_metrics(str(path), args.port, args.addr)
    except OSError as e:  # in use, not ours to bind, or an address this host does not have
        raise UsageError(f"cannot listen on {args.addr}:{args.port}: {e.strerror or e}") from None
    host, port = server.server_address[:2]
    print(f"vrift: serving {path} at http://{host}:{port}/metrics (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def dashboard(args: argparse.Namespace) -> int:
    from vrift_profile import write_output

    try:  # the SDK is imported here only: `show` never pays for it
        from vrift_export_prometheus.dashboard import dashboard_json
    except ImportError as e:
        raise SessionError(
            f"dashboard needs vrift-export-prometheus and grafana-foundation-sdk ({e})"
        ) from None
    write_output(dashboard_json().encode(), args.output, mode=0o644)
    if args.output:
        print(f"vrift: Grafana dashboard written: {args.output} (Dashboards > New > Import; docs/grafana.md)")
    return 0


def diff_cmd(args: argparse.Namespace) -> int:
    from vrift_profile import load
    from vrift_profile.diff import Threshold, diff

    from .diff_render import render_diff

    rules = [Threshold.parse(r) for r in args.fail_if]
    d = diff(load(args.a), load(args.b))
    if args.format == "json":
        import orjson

        payload = d.to_dict()
        payload["a"], payload["b"] = args.a, args.b
        sys.stdout.buffer.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(render_diff(d, args.a, args.b))
    failed = 0
    for rule in rules:
        bad, change = rule.violated(d)
        if bad:
            failed += 1
            pct = change.percent
            how = f"{pct:+.1f}%" if pct is not None and pct != float("inf") else "new"
            print(
                f"vrift: regression: {rule.text} ({change.a:,.0f} -> {change.b:,.0f}, {how})",
                file=sys.stderr,
            )
    return 1 if failed else 0


def _sampler(path: Path):
    """Session totals every half second in SESSION.samples (the Perfetto
    export draws calls/s and file-system time/s from them); none if the
    sidecar cannot be written."""
    from vrift_profile.samples import Sampler

    try:
        sampler = Sampler(path)
    except OSError as e:
        print(f"vrift: not sampling totals over time: {e}", file=sys.stderr)
        return None
    sampler.start()
    return sampler


def profile_run(args: argparse.Namespace) -> int:
    cmd = command_of(args, "vrift profile run")
    explicit = _explicit(args)
    if explicit is not None:
        if explicit.exists():
            raise SessionError(f"{explicit}: already exists (profile run starts a fresh session)")
        check_parent_dir(explicit)
        path = _new_session(explicit, args)
    else:
        path = _new_session(new_session_path(), args)
    env = shim_environment(path, loader=args.loader)
    if unseen := warn_if_unseen(cmd):
        print(unseen, file=sys.stderr)
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # a deleted directory: the command may still run; history just has no cwd
        cwd = None
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from .progress import progress_for

        progress = progress_for(path, cmd, cwd)
    # The child gets Ctrl-C from the terminal itself; vrift waits to report,
    # and to record, so a late Ctrl-C cannot replace the child's status.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            # a static command: started through env, so that it gets a ghost (timed)
            proc = subprocess.Popen(through_a_follower(cmd), env=env, restore_signals=True)
        except OSError as e:
            return launch_failed(cmd, e)
        sampler = _sampler(path)
        if progress is not None:
            progress.start()
        try:
            rc = proc.wait()
            ended_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)  # before the bookkeeping below
        finally:
            if progress is not None:
                progress.stop()
            if sampler is not None:
                sampler.stop()
        set_enabled(path, False)
        from vrift_profile.writer import record_launched_status

        try:
            record_launched_status(path, proc.pid, rc, ended_ns)  # its slot's exit status (format 1.5)
        except ProfileError as e:
            print(f"vrift: exit status not recorded in the session: {e}", file=sys.stderr)
        from .history import record_for_build
        from .run_record import record_of
        from .style import stderr_color

        snap = read_profile(path)
        print(render.render_summary(snap, color=stderr_color()), file=sys.stderr)
        status = 128 - rc if rc < 0 else rc
        # A failed build is history too (its status says so); estimates use successful runs only.
        record_for_build(record_of(snap, source="run", argv=cmd, cwd=cwd, exit_status=status))
        return status
    finally:
        signal.signal(signal.SIGINT, old)
