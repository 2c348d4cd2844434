"""The rooms and which may import which (docs/architecture.md, "Layers"): read from the source with
ast, so a new upward import fails here instead of tangling the layers quietly.

Product code only: tests, the test support package and the benchmarks may import anything."""
import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)

# Each room and the rooms it may import (besides itself). Lowest layer first.
MAY_IMPORT = {
    "streaming": set(),
    "identity": set(),
    "campaigns": {"streaming", "identity"},
    "stats": {"campaigns", "streaming", "identity"},
    "monitoring": {"campaigns", "stats", "streaming", "identity"},
    "campaign_site": {"campaigns", "stats", "monitoring", "streaming", "identity"},
    "lab": {"campaigns", "stats", "monitoring", "streaming", "campaign_site", "identity"},
}
# Modules of campaign_site that are foundations, not the composition on top: every room may use
# them, and they import no room themselves.
FOUNDATION = {"campaign_site.environment", "campaign_site.logging_config", "campaign_site.schedule",
              "campaign_site.parsers"}
ROOMS = set(MAY_IMPORT) | {"testsupport", "bench"}


def product_modules():
    for room in MAY_IMPORT:
        for path in sorted((ROOT / room).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield ".".join(p for p in parts if p != "__init__"), path


def project_imports(path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                 else [])
        for name in names:
            if name.split(".")[0] in ROOMS:
                yield node.lineno, name


def is_foundation(name):
    return any(name == f or name.startswith(f + ".") for f in FOUNDATION)


def allowed(module, name):
    room, target = module.split(".")[0], name.split(".")[0]
    if module in FOUNDATION:
        return is_foundation(name)
    return target == room or target in MAY_IMPORT[room] or is_foundation(name)


def violations():
    return [f"{path.relative_to(ROOT)}:{lineno}: {module} imports {name}"
            for module, path in product_modules() for lineno, name in project_imports(path)
            if not allowed(module, name)]


def test_every_room_imports_only_the_rooms_below_it():
    assert violations() == []


def test_settings_import_no_room():
    for path in sorted((ROOT / "campaign_site/settings").glob("*.py")):
        imported = [name for _, name in project_imports(path) if name not in FOUNDATION]
        assert imported == [], f"{path.name} imports {imported}"


def test_the_check_finds_an_upward_import(tmp_path, monkeypatch):
    bad = tmp_path / "streaming" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("from campaigns.models import Campaign\nimport lab.stack\nfrom campaign_site.environment import env\n")
    monkeypatch.setattr("campaign_site.tests.test_architecture.ROOT", tmp_path)
    assert violations() == ["streaming/bad.py:1: streaming.bad imports campaigns.models",
                            "streaming/bad.py:2: streaming.bad imports lab.stack"]
