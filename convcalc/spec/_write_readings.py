"""Write the built-ins' stored readings (``convcalc.spec._readings``), those that changed, and
remove those of specs that are gone; ``--check`` writes nothing and exits 1 when one is not
current. A maintainer's tool: ``python -m convcalc.spec._write_readings [--check]``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from convcalc.spec._readings import READ_DIR, decoded
from convcalc.spec._yaml import load_yaml
from convcalc.spec.zoo import builtin_names, specs_dir

__all__ = ["main", "reading_text"]


def reading_text(name: str) -> str:
    """The stored reading of built-in ``name``, as its file holds it. Raises ``ValueError`` when
    JSON cannot hold the reading exactly (a mapping key that is not text, a path through a merge)."""
    file = f"{name}.yaml"
    text = (specs_dir() / file).read_text(encoding="utf-8")
    value, source = load_yaml(text, file)
    index: dict[tuple, int] = {(): 0}
    paths: list[list] = []

    def path_index(path: tuple) -> int:
        if path not in index:
            parent = path_index(path[:-1])
            paths.append([parent, path[-1]])
            index[path] = len(paths)
        return index[path]

    values = [[path_index(p), line, col] for p, (line, col) in source.values.items()]
    keys = [[path_index(p), line, col] for p, (line, col) in source.keys.items()]
    written = json.dumps({"text": text, "value": value, "paths": paths, "values": values, "keys": keys},
                         ensure_ascii=False, separators=(",", ":")) + "\n"
    back_value, back = decoded(json.loads(written), file)
    for ours, theirs in ((back_value, value), (back.values, source.values), (back.keys, source.keys)):
        if _typed(ours) != _typed(theirs):
            raise ValueError(f"{file}: JSON cannot hold its reading exactly")
    return written


def _typed(x: Any) -> Any:
    """``x`` with the type of every value beside it: ``1``, ``1.0`` and ``True`` are equal, and differ here."""
    if isinstance(x, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in x.items()])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_typed(v) for v in x])
    return (type(x).__name__, x)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    folder = specs_dir() / READ_DIR
    wanted = {f"{name}.json": reading_text(name) for name in builtin_names()}
    stale = [f for f in sorted(wanted) if not (folder / f).is_file() or (folder / f).read_text(encoding="utf-8") != wanted[f]]
    extra = sorted(p.name for p in folder.glob("*.json") if p.name not in wanted) if folder.is_dir() else []
    if check:
        for f in stale + extra:
            print(f"{folder / f}: not current; run `python -m convcalc.spec._write_readings`", file=sys.stderr)
        return 1 if stale or extra else 0
    folder.mkdir(exist_ok=True)
    for f in stale:
        partial = folder / f".{f}.partial"
        partial.write_text(wanted[f], encoding="utf-8")
        os.replace(partial, folder / f)  # never a half-written reading
    for f in extra:
        (folder / f).unlink()
    print(f"{len(stale)} written, {len(extra)} removed, {len(wanted) - len(stale)} current ({folder})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
