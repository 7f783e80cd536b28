"""``GET /api/characters/{id}/export``, ``POST /api/characters/import`` and the JSON Schema."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status
from fastapi.responses import JSONResponse

from hero_foundry.accounts.deps import CurrentUser
from hero_foundry.characters import service as characters
from hero_foundry.deps import CatalogueDep, SessionDep
from hero_foundry.dice.signing import RollSignerDep
from hero_foundry.exports import service
from hero_foundry.exports.document import content_disposition
from hero_foundry.exports.schema import SCHEMA_URL, SCHEMA_URL_TEMPLATE, json_schema
from hero_foundry.exports.service import ExportFormat
from hero_foundry.problems import responses

router = APIRouter(tags=["exports"])

EXPORT_CONTENT = {
    "application/json": {"schema": {"type": "object"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
}


@router.get(
    "/api/characters/{character_id}/export",
    response_class=Response,
    responses={
        200: {"description": "The file, as an attachment.", "content": EXPORT_CONTENT},
        **responses(401, 404, 422, 500),
    },
)
async def export_character(
    character_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
    signer: RollSignerDep,
    fmt: Annotated[
        ExportFormat,
        Query(
            alias="format",
            description="json: the hero-foundry/character document (importable); "
            "pdf: a character sheet; foundry: a Foundry VTT dnd5e actor.",
        ),
    ] = ExportFormat.json,
) -> Response:
    """Download a character as a file named after it."""
    character = await characters.get_character(db, user, character_id)
    file = await service.export(cat, character, fmt, signer)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": content_disposition(file.filename),
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/api/characters/import",
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 413, 422),
)
async def import_character(
    document: Annotated[
        dict[str, Any],
        Body(
            description=f"A hero-foundry/character export (JSON Schema: {SCHEMA_URL}). "
            "Every choice is validated with the rules again; the sheet is ignored."
        ),
    ],
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
    signer: RollSignerDep,
    response: Response,
    require_verified_rolls: Annotated[
        bool,
        Query(
            description="Refuse (422, naming them) dice that this server cannot show it rolled "
            "for you; by default they are imported and marked unverified."
        ),
    ] = False,
) -> dict[str, Any]:
    """Create a new character of yours from an export file (it gets a new id). Its dice are
    `verified` when the file's signatures prove this server rolled them for you."""
    character = await service.import_character(
        db, cat, user, document, signer, require_verified_rolls=require_verified_rolls
    )
    response.headers["Location"] = f"/api/characters/{character.id}"
    return characters.character_view(cat, character)


@router.get(SCHEMA_URL, response_class=JSONResponse)
async def character_schema() -> JSONResponse:
    """The JSON Schema of the hero-foundry/character export, the version written (2)."""
    return JSONResponse(json_schema(), media_type="application/schema+json")


@router.get(SCHEMA_URL_TEMPLATE.format(version=1), response_class=JSONResponse)
async def character_schema_v1() -> JSONResponse:
    """The JSON Schema of the hero-foundry/character export, version 1 (still imported)."""
    return JSONResponse(json_schema(1), media_type="application/schema+json")
