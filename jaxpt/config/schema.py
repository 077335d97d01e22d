"""Declaring config sections with a one-line meaning per key, so `--help` and the docs come from one place.

    c = section("optim", [("lr", 1e-5, "peak learning rate"), ...])

`DOCS` maps every declared dotted key (e.g. "optim.lr") to its meaning; `help_text(cfg)` renders the keys of
a config tree with their current values for a launch script's `--help`.
"""
from typing import Dict, Iterable, Tuple

import ml_collections
from ml_collections.config_dict import placeholder

DOCS: Dict[str, str] = {}
# Keys whose values are maps the user fills freely (field mappings, model overrides): no key checking inside.
FREE_FORM: set = set()
# Per-stage override sections: every key of the shared section, None = inherit it (e.g. "sft.optim").
OVERRIDES: Dict[str, str] = {}

Item = Tuple[str, object, str]


def section(path: str, items: Iterable[Item]) -> ml_collections.ConfigDict:
    """A ConfigDict of `items` (key, default, meaning); a default that is a ConfigDict is a sub-section
    declared elsewhere, a `dict` is a free-form map."""
    c = ml_collections.ConfigDict()
    for key, default, doc in items:
        full = f"{path}.{key}" if path else key
        if isinstance(default, dict):
            FREE_FORM.add(full)
            default = ml_collections.ConfigDict(default)
        c[key] = default
        DOCS[full] = doc
    return c


def override_section(path: str, shared: ml_collections.ConfigDict, shared_path: str) -> ml_collections.ConfigDict:
    """A section with every key of `shared` set to a typed None: the stage's own value where given, else the
    shared section's (e.g. sft.optim.lr over optim.lr)."""
    c = ml_collections.ConfigDict()
    for key in shared.keys():
        value = shared[key]
        c[key] = placeholder(type(value)) if not isinstance(value, bool) else placeholder(bool)
        DOCS[f"{path}.{key}"] = f"this stage's {shared_path}.{key} (unset = {shared_path}.{key})"
    OVERRIDES[path] = shared_path
    return c


def walk(cfg, prefix: str = ""):
    """(dotted key, value) of every leaf; free-form maps are leaves."""
    for key in sorted(cfg.keys()):
        full = f"{prefix}{key}"
        value = cfg[key]
        if isinstance(value, ml_collections.ConfigDict) and full not in FREE_FORM:
            yield from walk(value, full + ".")
        else:
            yield full, value


def help_text(cfg, main_sections: Iterable[str] = ()) -> str:
    """'key = value  meaning' lines for the main sections (all when empty), grouped by section."""
    wanted = tuple(main_sections)
    lines, last = [], None
    for key, value in walk(cfg):
        head = key.split(".")[0]
        if wanted and head not in wanted:
            continue
        if key.count(".") >= 2 and key.rsplit(".", 1)[0] in OVERRIDES:
            continue  # stage overrides of shared keys: one line for the whole section below
        if head != last:
            lines.append("")
            last = head
        shown = value.to_dict() if hasattr(value, "to_dict") else value
        lines.append(f"  {key} = {shown!r}: {DOCS.get(key, '')}")
    for path, shared in sorted(OVERRIDES.items()):
        if path.split(".")[0] in (wanted or (path.split(".")[0],)) and _has(cfg, path):
            lines.append(f"  {path}.<key>: any {shared}.<key> for this stage only (unset = {shared}.<key>)")
    return "\n".join(lines)


def _has(cfg, path: str) -> bool:
    node = cfg
    for part in path.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            return False
        node = node[part]
    return True
