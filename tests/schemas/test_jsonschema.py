"""The checked-in JSON Schema files match the models, and the compatibility check refuses
changes that would break consumers unless the schema version is bumped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from schemas.compat import SchemaCheckError, check, compare, generate
from schemas.jsonschema import JSON_DIR, MODELS, generated

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_files_match_the_models() -> None:
    for name, text in generated().items():
        path = JSON_DIR / name
        assert path.exists(), f"{name} is not checked in: run `omnicx schemas generate`"
        assert path.read_text(encoding="utf-8") == text, f"{name} drifted from its model"
    assert {r.status for r in check()} == {"ok"}


def test_checked_in_interaction_schema_names_the_contract_fields() -> None:
    doc = json.loads((JSON_DIR / "interaction_event.v1.json").read_text(encoding="utf-8"))
    assert doc["x-omnicx-schema-version"] == 1
    assert doc["$id"].endswith(":v1")
    for field in ("event_id", "occurred_at", "channel", "direction", "kind", "identifiers"):
        assert field in doc["properties"]
        assert field in doc["required"]


# Small models standing in for successive versions of one contract.
class V1(BaseModel):
    schema_version: Literal[1] = 1
    event_id: str
    channel: Literal["phone", "email", "chat"]
    score: int | None = None
    note: str | None = None


class AddsOptional(BaseModel):
    schema_version: Literal[1] = 1
    event_id: str
    channel: Literal["phone", "email", "chat", "app"]  # widened enum
    score: float | None = None  # integer -> number widens
    note: str | None = None
    extra: str | None = None


class RemovesNote(BaseModel):
    schema_version: Literal[1] = 1
    event_id: str
    channel: Literal["phone", "email", "chat"]
    score: int | None = None


class RetypesScore(BaseModel):
    schema_version: Literal[1] = 1
    event_id: str
    channel: Literal["phone", "email", "chat"]
    score: str | None = None
    note: str | None = None


class NarrowsChannel(BaseModel):
    schema_version: Literal[1] = 1
    event_id: str
    channel: Literal["phone", "email"]
    score: int | None = None
    note: str | None = None


class RequiresNote(BaseModel):
    schema_version: Literal[1] = 1
    event_id: str
    channel: Literal["phone", "email", "chat"]
    score: int | None = None
    note: str


class RemovesNoteV2(BaseModel):
    schema_version: Literal[2] = 2
    event_id: str
    channel: Literal["phone", "email", "chat"]
    score: int | None = None


def _breaking_kinds(model: type[BaseModel], tmp_path: Path) -> set[str]:
    generate(tmp_path, {"thing": V1})
    (result,) = check(tmp_path, {"thing": model})
    return {c.kind for c in result.breaking}


def test_compatible_changes_are_accepted(tmp_path: Path) -> None:
    generate(tmp_path, {"thing": V1})
    (result,) = check(tmp_path, {"thing": AddsOptional})
    assert result.status == "drift"  # file must be regenerated, but nothing breaks
    kinds = {c.kind for c in result.changes}
    assert kinds == {"added_field", "widened_enum", "widened_type"}
    assert result.breaking == []
    written = generate(tmp_path, {"thing": AddsOptional})
    assert [p.name for p in written] == ["thing.v1.json"]


@pytest.mark.parametrize(
    ("model", "kinds"),
    [
        (RemovesNote, {"removed_field"}),
        (RetypesScore, {"changed_type"}),
        (NarrowsChannel, {"narrowed_enum"}),
        (RequiresNote, {"newly_required", "changed_type"}),  # and null no longer allowed
    ],
)
def test_breaking_changes_are_refused_without_a_bump(
    tmp_path: Path, model: type[BaseModel], kinds: set[str]
) -> None:
    assert _breaking_kinds(model, tmp_path) == kinds
    before = (tmp_path / "thing.v1.json").read_text(encoding="utf-8")
    with pytest.raises(SchemaCheckError, match="bump schema_version to 2"):
        generate(tmp_path, {"thing": model})
    assert (tmp_path / "thing.v1.json").read_text(encoding="utf-8") == before


def test_a_version_bump_writes_a_new_file_and_keeps_the_old(tmp_path: Path) -> None:
    generate(tmp_path, {"thing": V1})
    (result,) = check(tmp_path, {"thing": RemovesNoteV2})
    assert result.status == "new_version" and result.compared_with == "thing.v1.json"
    assert {c.kind for c in result.breaking} == {"removed_field"}
    generate(tmp_path, {"thing": RemovesNoteV2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thing.v1.json", "thing.v2.json"]
    # Going back to v1 after v2 exists is refused.
    (back,) = check(tmp_path, {"thing": V1})
    assert back.status == "breaking"


def test_compare_sees_through_refs_and_nullable() -> None:
    old = V1.model_json_schema()
    assert compare(old, old) == []
    new = json.loads(json.dumps(old))
    new["properties"]["event_id"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    (change,) = compare(old, new)
    assert (change.kind, change.breaking) == ("widened_type", False)


def test_omnicx_schemas_check_cli(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "omnicx", "schemas", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    for name in MODELS:
        assert name in ok.stdout
    # A checked-in file that disagrees with the model: a narrowed copy of the real schema makes
    # the current model look like a widening (drift), a field the model lacks makes it breaking.
    doc = json.loads((JSON_DIR / "interaction_event.v1.json").read_text(encoding="utf-8"))
    doc["properties"]["legacy_score"] = {"type": "integer"}
    for name in MODELS:
        (tmp_path / f"{name}.v1.json").write_text(
            (JSON_DIR / f"{name}.v1.json").read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "interaction_event.v1.json").write_text(json.dumps(doc), encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "omnicx", "schemas", "check", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "legacy_score" in bad.stderr and "bump schema_version to 2" in bad.stderr
