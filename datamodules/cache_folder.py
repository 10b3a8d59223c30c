"""The cache folder at a glance: ``python cli.py prepare --list`` and ``--clean``.

Every cache (``<name>-<px>px-<key>.npy``, ``.index.npy`` and ``.json``, written by
``datamodules.images.write_cache``) is listed with its size and state: ok, stale (written by another cache
version, so never read again), damaged, or incomplete (a build that did not finish); build temporaries
are listed as live or left by a killed build. ``--clean`` removes the stale, damaged and incomplete caches
and the killed builds' temporaries, never a sound cache or the files of a build that is still running.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from datamodules.images import (
    CACHE_FILE,
    CACHE_VERSION,
    CacheDamage,
    CachedImages,
    build_temporaries,
    default_cache_dir,
)
from zoo.errors import ZooError


@dataclass
class CacheEntry:
    """One cache (its files share a stem) or one build temporary, with what ``--clean`` does about it."""

    name: str
    files: list[Path] = field(default_factory=list)
    state: str = ""
    removable: bool = False

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.exists())


def human_size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def cache_stem(name: str) -> str | None:
    """The cache a file or temporary belongs to (its name without the suffixes), None for other files."""
    match = CACHE_FILE.fullmatch(name)
    return match["stem"] if match else None


def cache_state(folder: Path, stem: str, files: list[Path]) -> tuple[str, bool]:
    """(state, removable) of the cache ``folder/stem``: its files, header, index and a sample of images are
    checked as training would check them."""
    meta_path = folder / f"{stem}.json"
    if not meta_path.is_file():
        return "incomplete: no .json (a build that did not finish)", True
    try:
        version = json.loads(meta_path.read_bytes()).get("version")
    except (ValueError, AttributeError):
        version = CACHE_VERSION  # let the check below name the damage
    if version != CACHE_VERSION:
        return f"stale: cache version {version}, never read by this version ({CACHE_VERSION})", True
    try:
        cache = CachedImages(folder / stem, None)
    except CacheDamage as damage:
        return f"damaged: {damage.reason}", True
    c, r = cache.meta["shape"][:2]
    return f"ok: {len(cache)} images, {c}x{r}x{r}, from {cache.meta.get('source', '?')}", False


def cache_entries(folder: Path) -> list[CacheEntry]:
    """Every cache and build temporary in ``folder``, in name order; other files are left out."""
    temporaries = build_temporaries(folder)
    caches: dict[str, CacheEntry] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        stem = cache_stem(path.name)
        if stem is not None and path not in temporaries and path.is_file():
            caches.setdefault(stem, CacheEntry(stem)).files.append(path)
    for stem, entry in caches.items():
        entry.state, entry.removable = cache_state(folder, stem, entry.files)
    for path, dead in temporaries.items():
        pid = CACHE_FILE.fullmatch(path.name)["pid"]
        state = "temporary left by a killed build" if dead else f"temporary of a running build (process {pid})"
        caches[path.name] = CacheEntry(path.name, [path], state, removable=dead)
    live = {cache_stem(p.name) for p, dead in temporaries.items() if not dead}
    for stem in live & caches.keys():  # being rebuilt right now: leave it to its build
        caches[stem].state, caches[stem].removable = f"being rebuilt ({caches[stem].state})", False
    return sorted(caches.values(), key=lambda e: e.name)


def report(folder: Path, clean: bool) -> int:
    """Prints one line per cache and temporary in ``folder``; with ``clean`` removes the removable ones."""
    entries = cache_entries(folder)
    if not entries:
        print(f"no dataset caches in {folder}")
        return 0
    print(f"dataset caches in {folder}:")
    for entry in entries:
        print(f"  {entry.name}  {human_size(entry.size)}  {entry.state}")
    removable = [e for e in entries if e.removable]
    freed = sum(e.size for e in removable)
    if not removable:
        print(f"nothing to clean ({human_size(sum(e.size for e in entries))} in use)")
    elif clean:
        for path in (f for e in removable for f in e.files):
            path.unlink(missing_ok=True)
        print(f"removed {len(removable)} stale, damaged or left-over entries ({human_size(freed)})")
    else:
        print(f"{len(removable)} stale, damaged or left-over entries ({human_size(freed)}): "
              f"python cli.py prepare --clean removes them")  # fmt: skip
    return 0


def cache_folder_command(argv: list[str]) -> int:
    """``python cli.py prepare`` without --data: lists (--list) or cleans (--clean) the cache folder."""
    parser = argparse.ArgumentParser(
        prog="python cli.py prepare",
        description="Build a dataset's resized uint8 cache ahead of training (fit builds it too when missing), "
        "checking every image of an existing cache and rebuilding a damaged one:\n"
        "  python cli.py prepare --data NAME --data.root PATH [--data.resolution R]\n"
        "  (python cli.py prepare --data NAME --help: every option of that dataset)\n"
        "or look after the cache folder:\n"
        "  python cli.py prepare --list | --clean [--cache_dir DIR]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the caches with their size and state")
    action.add_argument(
        "--clean", action="store_true",
        help="remove stale caches (another cache version), damaged or incomplete ones and killed builds' temporaries",
    )  # fmt: skip
    parser.add_argument(
        "--cache_dir", default=None, help="the cache folder (default: $GAN_ZOO_CACHE or ~/.cache/gan-zoo)"
    )
    args, unknown = parser.parse_known_args(argv)
    if not (args.list or args.clean):
        raise ZooError("choose a dataset with --data NAME, or --list / --clean the cache folder (see --help)")
    if unknown:
        raise ZooError(f"prepare --list / --clean takes only --cache_dir, not {' '.join(unknown)}")
    return report(Path(args.cache_dir) if args.cache_dir else default_cache_dir(), clean=args.clean)
