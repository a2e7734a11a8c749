"""``POST /v1/admin/reload``: swap in new model versions while requests keep being answered.

Admin routes need ``Authorization: Bearer TOKEN`` with the token the server was started with
(``--admin-token`` or ``FOODREC_ADMIN_TOKEN``): a request without one is 401, a wrong one 401; without a
configured token the routes are disabled (403 to a request that carries a token).

A reload naming a variant that is not served is 404; one whose model or A/B file cannot be loaded is 409 (the
request is well formed, the folder is not loadable now) and the previous models keep serving.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from foodrec.errors import FoodrecError
from foodrec.serving.deps import Service, get_service
from foodrec.serving.routers.health import variant_infos
from foodrec.serving.schemas import ErrorResponse, ReloadRequest, ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"])
bearer = HTTPBearer(auto_error=False, description="the server's admin token")
log = logging.getLogger("foodrec.serving")


def require_admin(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer), service: Service = Depends(get_service)
) -> None:
    if credentials is None:  # no credentials at all: a challenge (401), as HTTP authentication has it
        disabled = "" if service.admin_token else " (and admin routes are disabled on this server)"
        raise HTTPException(
            401,
            f"missing admin token (send 'Authorization: Bearer TOKEN'){disabled}",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not service.admin_token:
        raise HTTPException(
            403, "admin routes are disabled: start the server with --admin-token or FOODREC_ADMIN_TOKEN"
        )
    given = credentials.credentials
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), service.admin_token.encode()):
        raise HTTPException(
            401,
            "missing or wrong admin token (send 'Authorization: Bearer TOKEN')",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.post(
    "/reload",
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse, "description": "a variant that is not served; the old models keep serving"},
        409: {
            "model": ErrorResponse,
            "description": "the new model or A/B config could not be loaded; the old one keeps serving",
        },
    },
    summary="Reload models (and the A/B file) without dropping requests",
)
async def reload(body: ReloadRequest | None = None, service: Service = Depends(get_service)) -> ReloadResponse:
    before = service.state.snapshot
    try:
        # Loading a model takes a while: do it off the event loop so requests keep being answered.
        snapshot = await run_in_threadpool(service.reload, dict(body.variants) if body else None)
    except FoodrecError as err:
        service.metrics.inc("foodrec_model_reloads_total", result="failed")
        status = 404 if str(err).startswith("unknown variant") else 409
        reason = _one_line(str(err))
        raise HTTPException(status, f"reload failed, still serving the previous models: {reason}") from None
    except Exception as err:  # noqa: BLE001 - whatever a bad folder does, the old models keep serving: 409, not 500
        log.exception("reload failed")
        service.metrics.inc("foodrec_model_reloads_total", result="failed")
        reason = _one_line(f"{type(err).__name__}: {err}")
        raise HTTPException(409, f"reload failed, still serving the previous models: {reason}") from None
    service.metrics.inc("foodrec_model_reloads_total", result="ok")
    log.warning("reloaded: %s", {name: m.version for name, m in snapshot.models.items()})
    return ReloadResponse(
        generation=snapshot.generation,
        salt=snapshot.ab.salt,
        variants=variant_infos(snapshot),
        previous={name: m.version for name, m in before.models.items()},
    )


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
