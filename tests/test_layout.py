"""The package's shape (DESIGN.md, Layout): modules in layers that import only downwards, streamlit
only in speechrec/ui/, plain modules free of SQL and pandas, and store.py holding ClipStore alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "speechrec"
# Lowest first. A module may import modules of lower layers only: never its own layer, never a
# higher one. A new module gets a place here on purpose.
LAYERS = [
    ["private"],
    ["errors", "parallel", "participant_codes"],
    ["i18n", "locations"],
    ["speechrec", "audio", "auth", "campaign", "config", "microphone", "storage", "features", "background"],
    ["decode", "quality", "capture", "prompts", "near_misses", "cut", "fingerprint"],
    ["records", "jobs", "review"],
    ["schema"],
    ["migrations", "queries"],
    ["store"],
    ["takes", "stats", "export", "importer", "migrate"],
    ["modelcheck"],
    ["withdrawal"],
    ["cli"],
    ["__main__"],
    ["ui.text"],
    ["ui", "ui.state", "ui.resources", "ui.waveform"],
    ["ui.language"],
    ["ui.browser", "ui.room", "ui.download", "ui.campaign_languages", "ui.model_check"],
    ["ui.auth", "ui.volunteer"],
    ["ui.live", "ui.participants"],
    ["ui.takes"],
]
LAYER = {name: index for index, names in enumerate(LAYERS) for name in names}
# Modules that pages, worker processes and the record types use: no SQL and no pandas in them.
PLAIN = [
    "audio",
    "background",
    "campaign",
    "capture",
    "cut",
    "decode",
    "features",
    "fingerprint",
    "i18n",
    "jobs",
    "locations",
    "near_misses",
    "microphone",
    "participant_codes",
    "prompts",
    "quality",
    "records",
    "storage",
]


def module_name(path: Path) -> str:
    """'store' for speechrec/store.py, 'ui.state' for speechrec/ui/state.py, 'speechrec' for the package."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "speechrec"


def layer_of(name: str) -> str:
    """The LAYERS entry a module belongs to: a file of a package counts as the package."""
    while name not in LAYER and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; speechrec imports absolutely (speechrec.x)"
            base = node.module or ""
            found.add(base)
            # `from speechrec.ui import state` imports the module speechrec.ui.state
            found |= {
                f"{base}.{alias.name}"
                for alias in node.names
                if (ROOT / base.replace(".", "/") / f"{alias.name}.py").exists()
            }
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def own(name: str) -> str | None:
    """The speechrec module an import names, without the package prefix; None for other packages."""
    if name == "speechrec":
        return "speechrec"
    return name.removeprefix("speechrec.") if name.startswith("speechrec.") else None


def test_every_module_has_a_layer():
    assert sorted(name for name in MODULES if layer_of(name) not in LAYER) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_go_down(name):
    mine = LAYER[layer_of(name)]
    upward = []
    for imported in imports(MODULES[name]):
        target = own(imported)
        if target is None or layer_of(target) == layer_of(name):
            continue  # another package, or a file of its own package (migrations' revisions)
        if LAYER[layer_of(target)] >= mine:
            upward.append(target)
    assert upward == [], f"speechrec.{name} (layer {mine}) imports a module of its own or a higher layer"


@pytest.mark.parametrize("name", sorted(name for name in MODULES if not name.startswith("ui")))
def test_streamlit_only_in_ui(name):
    assert not any(imported.split(".")[0] == "streamlit" for imported in imports(MODULES[name]))


def test_importing_the_library_loads_no_streamlit():
    """Also through third-party packages: import every module outside ui/ in a fresh interpreter."""
    names = [f"speechrec.{name}" if name != "speechrec" else name for name in MODULES if not name.startswith("ui")]
    # __main__ runs the CLI; Alembic runs env.py and the revisions inside a migration.
    names = [name for name in names if name != "speechrec.__main__" and not name.startswith("speechrec.migrations.")]
    code = f"import sys\nfor name in {names!r}:\n    __import__(name)\nprint('streamlit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("name", PLAIN)
def test_plain_modules_use_no_sql_and_no_pandas(name):
    heavy = {imported.split(".")[0] for imported in imports(MODULES[name])} & {"sqlalchemy", "pandas"}
    assert heavy == set()


def test_store_module_holds_only_clipstore():
    tree = ast.parse(MODULES["store"].read_text(encoding="utf-8"))
    defined = [
        node.name for node in tree.body if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    assert defined == ["ClipStore"]


# Streamlit arguments past their removal date, with what Streamlit's docs say to use instead.
DEPRECATED_STREAMLIT_ARGUMENTS = {"use_container_width": 'width="stretch" (or width="content")'}
APP_SOURCES = sorted([ROOT / "streamlit_app.py", *(ROOT / "pages").glob("*.py"), *(PACKAGE / "ui").glob("*.py")])


@pytest.mark.parametrize("path", APP_SOURCES, ids=[str(path.relative_to(ROOT)) for path in APP_SOURCES])
def test_no_deprecated_streamlit_arguments(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = [
        f"line {node.lineno}: {keyword.arg}, use {DEPRECATED_STREAMLIT_ARGUMENTS[keyword.arg]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg in DEPRECATED_STREAMLIT_ARGUMENTS
    ]
    assert used == []
