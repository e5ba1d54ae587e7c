"""JSON Schema files of the canonical models, generated from the pydantic models.

The files in `schemas/json/` (`interaction_event.v1.json`, `outreach_signal.v1.json`) are what
non-Python consumers validate against. They are generated, never edited by hand:

    python -m schemas.jsonschema          # or: omnicx schemas generate

A test fails when the files and the models drift, and `schemas.compat` refuses to regenerate a
file when the change would break existing consumers without a `schema_version` bump.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.cloudevents import INTERACTION_SCHEMA, SIGNAL_SCHEMA
from schemas.events import InteractionEvent
from schemas.signals import OutreachSignal

JSON_DIR = Path(__file__).resolve().parent / "json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# name -> (model, CloudEvents dataschema URN prefix); the file is `<name>.v<version>.json`.
MODELS: dict[str, type[BaseModel]] = {
    "interaction_event": InteractionEvent,
    "outreach_signal": OutreachSignal,
}
_URNS = {"interaction_event": INTERACTION_SCHEMA, "outreach_signal": SIGNAL_SCHEMA}


def model_version(model: type[BaseModel]) -> int:
    """The model's `schema_version` (its default: every model pins it)."""
    field = model.model_fields.get("schema_version")
    if field is None or not isinstance(field.default, int):
        raise ValueError(f"{model.__name__} has no integer schema_version default")
    return int(field.default)


def file_name(name: str, version: int) -> str:
    return f"{name}.v{version}.json"


def schema_for(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema document of `model` as checked in (validation mode: what a producer must
    send and a consumer may receive)."""
    version = model_version(model)
    body = model.model_json_schema(mode="validation")
    urn = _URNS.get(name, f"urn:omnicx:schema:{name.replace('_', '-')}:v1")
    urn = urn.rsplit(":v", 1)[0] + f":v{version}"
    return {"$schema": DRAFT, "$id": urn, "x-omnicx-schema-version": version, **body}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated(models: dict[str, type[BaseModel]] | None = None) -> dict[str, str]:
    """file name -> file text for the current models."""
    models = MODELS if models is None else models
    return {
        file_name(name, model_version(model)): render(schema_for(name, model))
        for name, model in models.items()
    }


def main(argv: list[str]) -> int:
    """Write the files after the compatibility check passes (see `schemas.compat`)."""
    from schemas.compat import SchemaCheckError, generate

    target = Path(argv[0]) if argv else JSON_DIR
    try:
        written = generate(target)
    except SchemaCheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
