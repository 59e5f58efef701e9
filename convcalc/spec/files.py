"""Finding specs among files: the YAML files of a directory, and whether a YAML text is plainly
not a spec (a workflow, a tool's configuration), so that ``convcalc check DIR`` and the pre-commit
hook can pass over it, saying so, instead of failing on it."""

from __future__ import annotations

import os
from difflib import get_close_matches
from pathlib import Path
from typing import Optional

__all__ = ["SPEC_KEYS", "not_a_spec", "spec_files"]

SPEC_KEYS = ("input", "batch", "layers", "blocks", "expect", "budget")  # top-level keys no common YAML file has
_NEAR_MISS = 0.8  # difflib ratio to "layers", which every spec has: layer, layres, Layers are near misses


def spec_files(directory: Path) -> list[Path]:
    """The ``*.yaml`` and ``*.yml`` files under ``directory``, in its subdirectories too, sorted;
    hidden files and directories (``.github``, ``.pre-commit-config.yaml``) are left out, and
    symbolic links to directories are not followed."""
    found = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [Path(folder) / f for f in files if f.endswith((".yaml", ".yml")) and not f.startswith(".")]
    return sorted(found)


def not_a_spec(text: str) -> Optional[str]:
    """Why a YAML text is plainly not a convcalc spec, or None when it may be one (checking it
    then says what is wrong with it). A spec is one YAML document, a mapping with at least one of
    the keys only specs have (:data:`SPEC_KEYS`) or a near miss of ``layers`` (``layer:``; not
    of ``input``, which would take a GitHub action's ``inputs:`` for a spec). Only the
    parser's events are read: tags, anchors and nesting cost nothing, and nothing is built."""
    import yaml

    keys: list[str] = []
    documents = depth = 0
    top = None
    expecting_key = True
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return "it holds several YAML documents; a spec is one"
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.ScalarEvent, yaml.AliasEvent)):
                if depth == 0:
                    top = event
                elif depth == 1 and isinstance(top, yaml.MappingStartEvent):
                    if expecting_key and isinstance(event, yaml.ScalarEvent):
                        if _spec_key(event.value):
                            return None
                        keys.append(event.value)
                    expecting_key = not expecting_key
                if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    depth += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except (yaml.YAMLError, RecursionError):
        return None
    if top is None:
        return None
    if isinstance(top, yaml.SequenceStartEvent):
        return "its top level is a list, not a mapping"
    if not isinstance(top, yaml.MappingStartEvent):
        return "its top level is a single value, not a mapping"
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    return f"none of its keys ({shown or 'none'}) is one of {', '.join(SPEC_KEYS)}"


def _spec_key(key: str) -> bool:
    return key in SPEC_KEYS or bool(get_close_matches(key, ["layers"], n=1, cutoff=_NEAR_MISS))
