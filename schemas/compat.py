"""Schema compatibility: may the current models replace the checked-in JSON Schema files?

A change is *breaking* when an existing consumer could no longer read new data or an existing
producer's data would no longer validate:

- a field is removed;
- a field's type changes so that a value the old schema allowed is no longer allowed
  (widening, e.g. `string` -> `string | null`, is fine);
- an enum loses a value (narrowed);
- a field becomes required that was optional or did not exist.

Adding an optional field, widening a type and adding an enum value are compatible. A breaking
change is refused unless the model's `schema_version` is bumped, which writes a new file
(`<name>.v2.json`) next to the old one, so consumers of v1 keep their schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.jsonschema import JSON_DIR, MODELS, file_name, generated, model_version

# Fields whose value *is* the version: their `const` changes with every bump.
VERSION_FIELDS = frozenset({"schema_version"})


class SchemaCheckError(Exception):
    """The models cannot replace the checked-in schema files (breaking change, no bump)."""


@dataclass(frozen=True)
class Change:
    """One difference between the checked-in schema and the model's."""

    path: str
    kind: str  # removed_field | changed_type | narrowed_enum | newly_required | added_field | ...
    breaking: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind} ({self.detail})"


@dataclass
class ModelCheck:
    """The verdict on one model."""

    name: str
    version: int
    file: str
    status: str  # ok | drift | breaking | new_version | missing
    changes: list[Change] = field(default_factory=list)
    compared_with: str | None = None

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Differences between two JSON Schema documents that matter to consumers."""
    changes: list[Change] = []
    _compare(_Doc(old), old, _Doc(new), new, "$", changes)
    return changes


class _Doc:
    """A schema document, for resolving local `$ref`s."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.defs = root.get("$defs", {})

    def resolve(self, node: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            ref = node["$ref"]
            if not ref.startswith("#/$defs/"):
                break
            node = self.defs.get(ref.removeprefix("#/$defs/"), {})
            seen += 1
        return node if isinstance(node, dict) else {}

    def branches(self, node: Any) -> list[dict[str, Any]]:
        node = self.resolve(node)
        for key in ("anyOf", "oneOf"):
            if key in node:
                out: list[dict[str, Any]] = []
                for branch in node[key]:
                    out.extend(self.branches(branch))
                return out
        return [node]


def _type_tags(doc: _Doc, node: Any) -> set[str] | None:
    """The value types a node allows (`string:date-time`, `integer`, ...); None for any."""
    tags: set[str] = set()
    for branch in doc.branches(node):
        if not branch:
            return None
        if "const" in branch:
            tags.add(_json_type(branch["const"]))
            continue
        if "enum" in branch:
            tags.update(_json_type(v) for v in branch["enum"])
            continue
        kinds = branch.get("type")
        if kinds is None:
            if "properties" in branch:
                kinds = "object"
            else:
                return None
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            fmt = branch.get("format")
            tags.add(f"{kind}:{fmt}" if fmt and kind == "string" else kind)
    return tags


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum(doc: _Doc, node: Any) -> set[Any] | None:
    """The allowed values if every branch is an enum/const (null branches ignored)."""
    values: set[Any] = set()
    found = False
    for branch in doc.branches(node):
        if branch.get("type") == "null":
            continue
        if "enum" in branch:
            values.update(json.dumps(v) for v in branch["enum"])
            found = True
        elif "const" in branch:
            values.add(json.dumps(branch["const"]))
            found = True
        else:
            return None
    return values if found else None


def _accepts(new: set[str], old_tag: str) -> bool:
    if old_tag in new:
        return True
    if old_tag == "integer" and "number" in new:
        return True
    # A formatted string still fits an unformatted string.
    return old_tag.startswith("string:") and "string" in new


def _compare(
    old_doc: _Doc, old: Any, new_doc: _Doc, new: Any, path: str, out: list[Change]
) -> None:
    field_name = path.rsplit(".", 1)[-1]
    old_tags, new_tags = _type_tags(old_doc, old), _type_tags(new_doc, new)
    if new_tags is not None and field_name not in VERSION_FIELDS:
        if old_tags is None:
            out.append(Change(path, "changed_type", True, f"any value -> {sorted(new_tags)}"))
            return
        lost = {t for t in old_tags if not _accepts(new_tags, t)}
        if lost:
            out.append(
                Change(
                    path,
                    "changed_type",
                    True,
                    f"{sorted(old_tags)} -> {sorted(new_tags)}; no longer allows {sorted(lost)}",
                )
            )
            return
        if new_tags - old_tags:
            out.append(
                Change(path, "widened_type", False, f"{sorted(old_tags)} -> {sorted(new_tags)}")
            )
    if field_name not in VERSION_FIELDS:
        old_enum, new_enum = _enum(old_doc, old), _enum(new_doc, new)
        if new_enum is not None and (old_enum is None or old_enum - new_enum):
            removed = sorted(old_enum - new_enum) if old_enum is not None else ["(any value)"]
            out.append(
                Change(path, "narrowed_enum", True, f"no longer allows {', '.join(removed)}")
            )
        elif old_enum is not None and new_enum is not None and new_enum - old_enum:
            out.append(
                Change(
                    path, "widened_enum", False, f"adds {', '.join(sorted(new_enum - old_enum))}"
                )
            )

    old_objs = [b for b in old_doc.branches(old) if "properties" in b]
    new_objs = [b for b in new_doc.branches(new) if "properties" in b]
    if len(old_objs) == 1 and len(new_objs) == 1:
        _compare_object(old_doc, old_objs[0], new_doc, new_objs[0], path, out)
    old_arrays = [b for b in old_doc.branches(old) if b.get("type") == "array" and "items" in b]
    new_arrays = [b for b in new_doc.branches(new) if b.get("type") == "array" and "items" in b]
    if len(old_arrays) == 1 and len(new_arrays) == 1:
        _compare(old_doc, old_arrays[0]["items"], new_doc, new_arrays[0]["items"], path + "[]", out)


def _compare_object(
    old_doc: _Doc,
    old: dict[str, Any],
    new_doc: _Doc,
    new: dict[str, Any],
    path: str,
    out: list[Change],
) -> None:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in old_props:
        if name not in new_props:
            out.append(Change(f"{path}.{name}", "removed_field", True, "field removed"))
    for name in new_props:
        if name not in old_props:
            required = name in new_required
            out.append(
                Change(
                    f"{path}.{name}",
                    "newly_required" if required else "added_field",
                    required,
                    "new required field" if required else "new optional field",
                )
            )
    for name in old_props:
        if name in new_props:
            if name in new_required and name not in old_required:
                out.append(Change(f"{path}.{name}", "newly_required", True, "optional -> required"))
            _compare(old_doc, old_props[name], new_doc, new_props[name], f"{path}.{name}", out)


def _versions_on_disk(json_dir: Path, name: str) -> dict[int, Path]:
    found = {}
    for path in json_dir.glob(f"{name}.v*.json"):
        suffix = path.name.removeprefix(f"{name}.v").removesuffix(".json")
        if suffix.isdigit():
            found[int(suffix)] = path
    return found


def check(
    json_dir: Path = JSON_DIR, models: dict[str, type[BaseModel]] | None = None
) -> list[ModelCheck]:
    """Compare each model with its checked-in file (or, after a version bump, with the previous
    version's file)."""
    models = MODELS if models is None else models
    texts = generated(models)
    results = []
    for name, model in models.items():
        version = model_version(model)
        target = file_name(name, version)
        new_schema = json.loads(texts[target])
        on_disk = _versions_on_disk(json_dir, name)
        newer = [v for v in on_disk if v > version]
        if newer:
            # A model behind its newest file was reverted: consumers already read v(newer).
            results.append(
                ModelCheck(
                    name,
                    version,
                    target,
                    "breaking",
                    [
                        Change(
                            "$.schema_version",
                            "version_went_back",
                            True,
                            f"model is v{version}, files exist up to v{max(newer)}",
                        )
                    ],
                )
            )
            continue
        if version in on_disk:
            old_schema = json.loads(on_disk[version].read_text(encoding="utf-8"))
            changes = compare(old_schema, new_schema)
            if any(c.breaking for c in changes):
                status = "breaking"
            elif on_disk[version].read_text(encoding="utf-8") != texts[target]:
                status = "drift"
            else:
                status = "ok"
            results.append(ModelCheck(name, version, target, status, changes, target))
            continue
        older = [v for v in on_disk if v < version]
        if not older:
            results.append(ModelCheck(name, version, target, "missing"))
            continue
        previous = on_disk[max(older)]
        changes = compare(json.loads(previous.read_text(encoding="utf-8")), new_schema)
        results.append(ModelCheck(name, version, target, "new_version", changes, previous.name))
    return results


def generate(
    json_dir: Path = JSON_DIR, models: dict[str, type[BaseModel]] | None = None
) -> list[Path]:
    """Write the current models' files, unless a change would break consumers without a
    version bump. Older versions' files are kept."""
    results = check(json_dir, models)
    refused = [r for r in results if r.status == "breaking"]
    if refused:
        raise SchemaCheckError(describe_refusal(refused))
    json_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generated(models).items():
        path = json_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def describe_refusal(refused: list[ModelCheck]) -> str:
    parts = []
    for result in refused:
        reasons = "; ".join(str(c) for c in result.breaking)
        parts.append(
            f"{result.name} v{result.version} would break consumers of {result.file}: {reasons}. "
            f"Keep the change compatible, or bump schema_version to {result.version + 1}"
        )
    return " | ".join(parts)


__all__ = [
    "JSON_DIR",
    "MODELS",
    "Change",
    "ModelCheck",
    "SchemaCheckError",
    "check",
    "compare",
    "generate",
    "model_version",
]
