"""The documentation names only things that exist.

README.md and docs/*.md name tests as proofs (`path/to/test_x.py::test_name`), link to each other
(with #anchors), and name repository files in backticks. A rename or a move that forgets the docs
leaves a proof nobody can run or a link to nowhere; these tests list every such reference.
"""
import ast
import re
import unicodedata
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH_EXTENSIONS = (".py", ".sh", ".js", ".yml", ".yaml", ".md", ".json", ".txt")

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# `file.py::name`, `file.py::Class::method`, `file.py::test[param-id]`; a reference that starts
# with `::` continues the last file named before it in the same document.
PY_REFERENCE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.py)?((?:::\w+)+)(\[[^\]\s]*\])?")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _without_fences(text: str) -> str:
    return FENCE.sub("", text)


@cache
def _module_names(path: Path) -> dict[str, set[str]]:
    """Top-level names a module defines, each class with the names it defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: dict[str, set[str]] = {}

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [node.name]
        if isinstance(node, ast.Assign):
            return [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        return []

    for node in tree.body:
        for name in targets(node):
            names[name] = {inner for child in getattr(node, "body", []) for inner in targets(child)} \
                if isinstance(node, ast.ClassDef) else set()
    return names


def _python_reference_misses(doc: Path) -> list[str]:
    misses = []
    current_file = None
    for match in PY_REFERENCE.finditer(doc.read_text(encoding="utf-8")):
        file_part, names_part = match.group(1), match.group(2)
        if file_part:
            current_file = file_part
        elif current_file is None:
            misses.append(f"{_relative(doc)}: `{names_part}` continues no file named before it")
            continue
        reference = f"{current_file}{names_part}"
        path = ROOT / current_file
        if not path.is_file():
            misses.append(f"{_relative(doc)}: {reference}: no file {current_file}")
            continue
        outer, *inner = names_part.strip(":").split("::")
        defined = _module_names(path)
        if outer not in defined:
            misses.append(f"{_relative(doc)}: {reference}: {current_file} defines no {outer}")
        elif inner and inner[0] not in defined[outer]:
            misses.append(f"{_relative(doc)}: {reference}: {outer} defines no {inner[0]}")
    return misses


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: inline markup dropped, lower case, punctuation removed,
    spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = "".join(c for c in text
                   if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


@cache
def _anchors(path: Path) -> set[str]:
    anchors, seen = set(), {}
    for heading in HEADING.findall(_without_fences(path.read_text(encoding="utf-8"))):
        slug = github_slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _link_misses(doc: Path) -> list[str]:
    misses = []
    for target in LINK.findall(_without_fences(doc.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):      # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        if not path.exists():
            misses.append(f"{_relative(doc)}: link {target}: no file {file_part}")
        elif anchor and path.suffix == ".md" and anchor.lower() not in _anchors(path):
            misses.append(f"{_relative(doc)}: link {target}: no heading #{anchor} in {_relative(path)}")
    return misses


def _looks_like_repository_path(token: str) -> bool:
    if token.startswith("/") or "://" in token or not re.fullmatch(r"[\w./-]+", token):
        return False
    if "/" in token and token.endswith(PATH_EXTENSIONS):
        return True
    first = token.split("/", 1)[0]
    return token.endswith("/") and (ROOT / first).is_dir() and not first.startswith(".")


def _backticked_path_misses(doc: Path) -> list[str]:
    misses = []
    for _, span in CODE_SPAN.findall(_without_fences(doc.read_text(encoding="utf-8"))):
        for token in span.split():
            token = token.split("::", 1)[0].rstrip(",;:")
            if _looks_like_repository_path(token) and not (ROOT / token).exists():
                misses.append(f"{_relative(doc)}: `{token}` does not exist")
    return misses


def _report(misses: list[str]) -> str:
    return f"{len(misses)} reference(s) to nothing:\n" + "\n".join(misses)


def test_every_named_test_exists_and_defines_that_test():
    misses = [miss for doc in DOCS for miss in _python_reference_misses(doc)]
    assert not misses, _report(misses)


def test_every_relative_link_and_anchor_resolves():
    misses = [miss for doc in DOCS for miss in _link_misses(doc)]
    assert not misses, _report(misses)


def test_every_backticked_repository_path_exists():
    misses = [miss for doc in DOCS for miss in _backticked_path_misses(doc)]
    assert not misses, _report(misses)


def test_the_checks_catch_what_they_are_for(tmp_path):
    """Each check on a made-up page: a missing test, file and anchor are reported; the forms that
    exist (a parametrize id, a continuation, a Class::method, a heading with code) are not."""
    this = "campaign_site/tests/test_docs.py"
    page = tmp_path / "page.md"
    page.write_text(
        "## Tests: `./scripts/test.sh`\n"
        f"`{this}::test_the_checks_catch_what_they_are_for[x-1]`, `::github_slug`, "
        f"`{this}::no_such_test`, `campaigns/no_such_module.py::test_x`, `{this}::github_slug::x`\n"
        "[ok](#tests-scriptstestsh) [bad](#tests) [gone](missing.md) [web](https://example.com/x)\n"
        "`campaigns/ingest.py` `bench/no_such.py` `.venv/bin/python bench/soak.py --requests 5`\n"
        "```\n[in a fence](nowhere.md) `not/checked.py`\n```\n",
        encoding="utf-8")
    python, links, paths = (_python_reference_misses(page), _link_misses(page),
                            _backticked_path_misses(page))
    assert [m.split(": ", 1)[1] for m in python] == [
        f"{this}::no_such_test: {this} defines no no_such_test",
        "campaigns/no_such_module.py::test_x: no file campaigns/no_such_module.py",
        f"{this}::github_slug::x: github_slug defines no x",
    ]
    assert [m.split(": ", 1)[1] for m in links] == [
        "link #tests: no heading #tests in page.md", "link missing.md: no file missing.md"]
    assert [m.split(": ", 1)[1] for m in paths] == [
        "`campaigns/no_such_module.py` does not exist", "`bench/no_such.py` does not exist"]
