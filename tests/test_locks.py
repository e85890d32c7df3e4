"""The input files (requirements*.in) and their locks (requirements*.txt) agree.

Someone who adds, removes or re-pins a dependency in an .in file and forgets `bin/lock` (or who edits a
lock by hand) makes these fail. A pure parse of the committed files: no registry, no network, no
compile. `bin/lock --check` is the stronger, online check (a re-compile must not change a lock).
"""

import ast
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PAIRS = [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]
FIX = "run bin/lock and commit both files"


@dataclass
class Pin:
    version: str
    hashes: set[str] = field(default_factory=set)
    via: set[str] = field(default_factory=set)


def read_in(name: str) -> dict[str, tuple[Requirement, str]]:
    """Every requirement an .in file declares, following its `-r` includes (not `-c` constraints),
    keyed by canonical name, each with the .in file that names it."""
    reqs: dict[str, tuple[Requirement, str]] = {}
    for raw in (ROOT / name).read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line or line.startswith("-c"):
            continue
        if line.startswith("-r"):
            reqs.update(read_in(line[2:].strip()))
            continue
        assert not line.startswith("-"), f"{name}: unexpected option {line!r}"
        req = Requirement(line)
        reqs[canonicalize_name(req.name)] = (req, name)
    return reqs


def read_lock(name: str) -> dict[str, Pin]:
    """name==version lines with their --hash options and `# via` annotations, keyed by canonical name."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in (ROOT / name).read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line):
            assert canonicalize_name(m[1]) not in pins, f"{name}: {m[1]} pinned twice"
            current = pins[canonicalize_name(m[1])] = Pin(m[2])
        elif current and (h := re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line)):
            current.hashes.add(h[1])
        elif current and (v := re.match(r"^\s+# via (\S.*)$|^\s+#   (\S.*)$", line)):
            current.via.add((v[1] or v[2]).strip())
        elif line.strip() and not re.match(r"^#|^\s+# via$", line):
            raise AssertionError(f"{name}: unexpected line {line!r}")
    return pins


@pytest.mark.parametrize(("infile", "lock"), PAIRS)
def test_every_declared_requirement_is_pinned_in_the_lock_at_a_version_it_allows(infile, lock):
    pins = read_lock(lock)
    for key, (req, source) in read_in(infile).items():
        assert key in pins, f"{source} declares {req} but {lock} does not pin it: {FIX}"
        pin = pins[key]
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"{source} asks for {req} but {lock} pins {pin.version}: {FIX}"
        )
        assert f"-r {source}" in pin.via, f"{lock} was not compiled with {req} declared in {source}: {FIX}"


@pytest.mark.parametrize(("infile", "lock"), PAIRS)
def test_every_pin_is_declared_or_needed_by_a_declared_one(infile, lock):
    """A package dropped from an .in file (and what only it needed) must leave the lock too."""
    declared = read_in(infile)
    sources = {f"-r {source}" for _, source in declared.values()}
    pins = read_lock(lock)
    needed = {key for key, pin in pins.items() if key in declared and pin.via & sources}
    grown = True
    while grown:
        grown = False
        for key, pin in pins.items():
            if key not in needed and {canonicalize_name(v) for v in pin.via if not v.startswith("-")} & needed:
                needed.add(key)
                grown = True
    for key, pin in pins.items():
        stale = sorted(v for v in pin.via if v.startswith("-r ") and v not in sources)
        assert not stale, f"{lock} pins {key} for {stale}, which {infile} no longer includes: {FIX}"
        assert key in declared or not pin.via & sources, (
            f"{lock} pins {key} as declared in {infile}, which no longer declares it: {FIX}"
        )
    for key, pin in pins.items():
        assert key in needed, f"{lock} pins {key}=={pin.version}, which {infile} neither declares nor needs: {FIX}"


@pytest.mark.parametrize("lock", [lock for _, lock in PAIRS])
def test_every_pin_carries_hashes(lock):
    """`pip install --require-hashes` refuses a lock with a bare pin; say which one here."""
    for key, pin in read_lock(lock).items():
        assert pin.hashes, f"{lock}: {key}=={pin.version} has no --hash: {FIX}"


def test_the_dev_lock_carries_the_runtime_lock_unchanged():
    """bin/test installs requirements-dev.txt alone: the suite must run on exactly the runtime's versions."""
    runtime, dev = read_lock("requirements.txt"), read_lock("requirements-dev.txt")
    for key, pin in runtime.items():
        assert key in dev, f"requirements-dev.txt lacks {key}, which requirements.txt pins: {FIX}"
        assert (dev[key].version, dev[key].hashes) == (pin.version, pin.hashes), (
            f"{key}: requirements.txt pins {pin.version}, requirements-dev.txt {dev[key].version}: {FIX}"
        )
    dev_in = (ROOT / "requirements-dev.in").read_text().splitlines()
    assert "-r requirements.in" in dev_in and "-c requirements.txt" in dev_in


def imported_top_level_modules(*paths: str) -> dict[str, Path]:
    """Absolute imports of the project's Python files that are neither stdlib nor the project's own."""
    found: dict[str, Path] = {}
    for top in paths:
        for path in sorted((ROOT / top).rglob("*.py")) if (ROOT / top).is_dir() else [ROOT / top]:
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for module in (name.partition(".")[0] for name in names):
                    own = any((d / module).is_dir() or (d / f"{module}.py").exists() for d in (ROOT, path.parent))
                    if module not in sys.stdlib_module_names and not own:
                        found.setdefault(module, path.relative_to(ROOT))
    return found


@pytest.mark.parametrize(
    ("infile", "paths"),
    [
        ("requirements.in", ["campaigns", "webapp", "workers", "rules", "migrations", "wsgi.py"]),
        ("requirements-dev.in", ["tests", "bench"]),
    ],
)
def test_every_third_party_module_the_code_imports_is_declared(infile, paths):
    """Arriving through another package (as Jinja2 did through Flask) is not being declared: the
    other package may drop it or move it to a version this code was never run on."""
    declared = read_in(infile)
    dists = packages_distributions()
    for module, where in imported_top_level_modules(*paths).items():
        owners = {canonicalize_name(d) for d in dists.get(module, [])}
        assert owners, f"{where} imports {module}, which no installed distribution provides"
        assert owners & declared.keys(), (
            f"{where} imports {module} ({', '.join(sorted(owners))}): declare it in {infile}"
        )
