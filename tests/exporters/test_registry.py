"""Exporter discovery: built-ins and third-party plugins through one entry-point group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from helpers import vrift
from vrift_profile import ExporterRegistry, ExportError


def test_builtin_formats_are_listed_with_their_packages(rundir):
    out = vrift("profile", "export", "--list-formats").stdout
    assert "json " in out and "[vrift-export-json]" in out
    assert "otel " in out and "[vrift-export-otel]" in out
    assert "prometheus " in out and "[vrift-export-prometheus]" in out
    assert "perfetto " in out and "[vrift-export-perfetto]" in out


def test_unknown_format_names_the_available_ones():
    with pytest.raises(
        ExportError, match=r"unknown export format 'xml' \(available: json, otel, perfetto, prometheus"
    ):
        ExporterRegistry().get("xml")


def test_autoload_switch():
    assert ExporterRegistry(autoload=False).formats() == []


def _make_plugin(root: Path, dist: str, module: str, body: str, ep_name: str) -> Path:
    pkg = root / dist
    (pkg / "src" / module).mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"
            [project]
            name = "{dist}"
            version = "0.0.1"
            [project.entry-points."vrift.exporters"]
            {ep_name} = "{module}"
            [tool.hatch.build.targets.wheel]
            packages = ["src/{module}"]
            """
        )
    )
    (pkg / "src" / module / "__init__.py").write_text(textwrap.dedent(body))
    return pkg


@pytest.fixture(scope="module")
def third_party(tmp_path_factory) -> Path:
    """Two throwaway plugin packages installed with pip into a target dir:
    one that works (format `csvcalls`) and one that fails to import."""
    root = tmp_path_factory.mktemp("plugins")
    good = _make_plugin(
        root,
        "vrift-export-csvcalls",
        "vrift_csvcalls",
        """
        from vrift_profile import Exporter, hookimpl, write_output

        class CsvCalls(Exporter):
            name = "csvcalls"
            description = "op,calls as CSV (third-party test plugin)"

            def add_arguments(self, parser):
                parser.add_argument("--sep", default=",")

            def export(self, snapshot, options):
                rows = [f"{op}{options.sep}{s.calls}" for op, s in snapshot.ops.items() if s.calls]
                write_output(("\\n".join(rows) + "\\n").encode(), options.output)

        @hookimpl
        def vrift_exporters():
            return [CsvCalls()]
        """,
        "csvcalls",
    )
    broken = _make_plugin(
        root, "vrift-export-broken", "vrift_broken", "import no_such_module_vrift\n", "broken"
    )
    target = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(good),
            str(broken),
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_third_party_plugin_appears_and_runs(third_party: Path, sample_session: Path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(third_party))
    listing = vrift("profile", "export", "--list-formats").stdout
    assert "csvcalls" in listing and "[vrift-export-csvcalls]" in listing
    assert "broken" in listing and "BROKEN: ModuleNotFoundError" in listing
    out = vrift("profile", "export", "--path", str(sample_session), "--format", "csvcalls", "--sep", ";")
    assert "stat;300" in out.stdout.splitlines()
    # the broken plugin is named when asked for, and does not break the others
    r = vrift("profile", "export", "--path", str(sample_session), "--format", "broken", check=False)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "vrift: exporter plugin 'broken' (package vrift-export-broken) is broken: "
        "ModuleNotFoundError: No module named 'no_such_module_vrift'"
    ]
    assert vrift("profile", "export", "--path", str(sample_session), "--format", "json").returncode == 0


def test_json_and_show_do_not_import_heavy_exporters(sample_session: Path):
    code = (
        "import sys; from vrift_cli.main import main; import contextlib, io\n"
        "with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):\n"
        f"    p = {str(sample_session)!r}\n"
        "    assert main(['profile', 'show', '--path', p]) == 0\n"
        "    assert main(['profile', 'export', '--format', 'json', '--path', p]) == 0\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry', 'prometheus_client', "
        "'google', 'perfetto', 'vrift_vfs'})\n"
        "print(heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def _plugin(name: str, body: str) -> ModuleType:
    module = ModuleType(name)
    exec(textwrap.dedent(body), module.__dict__)
    return module


GOOD = """
from vrift_profile import Exporter, hookimpl

class Csv(Exporter):
    name = "csv"
    description = "a test format"

@hookimpl
def vrift_exporters():
    return [Csv()]
"""


def test_a_plugin_that_raises_is_named_and_hides_no_other():
    """pluggy stops a hook call at the first hookimpl that raises; the registry
    then asks each plugin alone, so only the culprit is marked broken."""
    reg = ExporterRegistry(autoload=False)
    reg.register(_plugin("good", GOOD), "good", "vrift-export-good")
    reg.register(
        _plugin(
            "raiser",
            "from vrift_profile import hookimpl\n"
            "@hookimpl\n"
            "def vrift_exporters():\n"
            "    raise RuntimeError('boom')\n",
        ),
        "raiser",
        "vrift-export-raiser",
    )
    reg.register(
        _plugin(
            "nothing",
            "from vrift_profile import hookimpl\n@hookimpl\ndef vrift_exporters():\n    return None\n",
        ),
        "nothing",
        "vrift-export-nothing",
    )
    formats = {f.name: f for f in reg.formats()}
    assert formats["csv"].broken == "" and formats["csv"].package == "vrift-export-good"
    assert formats["raiser"].broken == "RuntimeError: boom"
    assert formats["nothing"].broken == "TypeError: returned None"
    assert reg.get("csv").description == "a test format"
    with pytest.raises(
        ExportError,
        match=r"^exporter plugin 'raiser' \(package vrift-export-raiser\) is broken: RuntimeError: boom$",
    ):
        reg.get("raiser")


def test_hookimpls_are_validated_by_pluggy():
    reg = ExporterRegistry(autoload=False)
    unmarked = _plugin("unmarked", "def vrift_exporters():\n    return []\n")
    with pytest.raises(ExportError, match=r"^no @hookimpl vrift_exporters \(is the decorator missing\?\)$"):
        reg.register(unmarked, "unmarked")
    typo = _plugin(
        "typo", "from vrift_profile import hookimpl\n@hookimpl\ndef vrift_exporter():\n    return []\n"
    )
    with pytest.raises(ExportError, match=r"^hookimpl vrift_exporter is not a vrift hook"):
        reg.register(typo, "typo")
    extra = _plugin(
        "extra",
        "from vrift_profile import hookimpl\n@hookimpl\ndef vrift_exporters(config):\n    return []\n",
    )
    with pytest.raises(ExportError, match=r"Argument\(s\) \{'config'\} are declared in the hookimpl"):
        reg.register(extra, "extra")
    assert reg.formats() == [] and reg.pm.list_name_plugin() == []  # none of them stays registered
