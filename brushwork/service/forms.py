"""The multipart form of ``POST /v1/stylize`` and ``POST /v1/jobs``: typed fields (so ``/docs``
shows them with this server's limits) read into an :class:`Order`."""

from typing import Annotated, Literal

from fastapi import File, Form, Request, UploadFile
from pydantic import FiniteFloat

from plugin_core import api
from plugin_core.controls import DEFAULT_SIZE, DEFAULT_STEPS, HELP

from .errors import ApiError
from .painting import FORMATS, Order
from .settings import Limits
from .store import Upload

MULTIPART = "multipart/form-data"


def multipart_only(request: Request) -> None:
    """Refuse bodies that are not a multipart form before their fields are looked for."""
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith(MULTIPART):
        raise ApiError(415, "unsupported_media_type",
                       f"send the fields as {MULTIPART} (curl -F), not {kind or 'no content type'}")


def order_form(limits: Limits):
    """The form as a FastAPI dependency, its maxima this server's ``limits``."""

    async def form(
        content: Annotated[UploadFile, File(description="the photo to paint")],
        style: Annotated[list[UploadFile] | None, File(description=(
            f"style image (repeatable, at most {limits.styles}; all images of a request together at most "
            f"{limits.request_megapixels:g} megapixels)"))] = None,
        mask: Annotated[list[UploadFile] | None, File(
            description="where the style applies, the content's size (one, or one per style)")] = None,
        model: Annotated[list[str] | None, Form(
            description="adain or fast: the model (default: the installed one); feedforward: a style model "
                        "(repeatable); see GET /v1/models")] = None,
        style_weight: Annotated[list[FiniteFloat] | None, Form(description=HELP["style_weights"])] = None,
        method: Annotated[Literal[api.METHODS], Form(description=HELP["method"])] = api.DEFAULT_METHOD,
        strength: Annotated[float | None, Form(ge=0, le=1, allow_inf_nan=False, description=HELP["strength"])] = None,
        color: Annotated[Literal[api.COLOR_MODES], Form(description=HELP["color"])] = "none",
        color_when: Annotated[Literal[api.COLOR_WHEN], Form()] = "after",
        size: Annotated[int, Form(ge=0, le=limits.size, description=HELP["size"])] = min(DEFAULT_SIZE, limits.size),
        tile: Annotated[str, Form(pattern=r"^(auto|off|\d{1,5})$", description=HELP["tile"])] = "auto",
        steps: Annotated[int, Form(ge=1, le=limits.steps, description=HELP["steps"])] = DEFAULT_STEPS,
        seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
        format: Annotated[Literal[tuple(FORMATS)], Form()] = "png",
    ) -> Order:
        files = [("content", [content]), ("style", style or []), ("mask", mask or [])]
        uploads = [Upload(field, upload.filename or "", await upload.read()) for field, group in files
                   for upload in group]
        fields = {
            "method": method, "model": model or [], "style_weight": style_weight or [], "strength": strength,
            "color": color, "color_when": color_when, "size": size, "tile": tile, "steps": steps, "seed": seed,
            "format": format,
        }
        return Order(fields, uploads)

    return form
