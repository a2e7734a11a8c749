"""``GET /v1/customers/{customer_id}/orders``: a customer's recent orders, as the customer's variant sees them.

The orders come from the data the variant's recommender looks things up in (its
:meth:`~foodrec.recommenders.base.Recommender.recent_orders`): the feature view of a model, the refreshed log of a
counting baseline - in both cases the store plus every order posted to ``/v1/events`` since, so an order shows
here as soon as its ``POST`` is answered. (The store log alone, read at start, would miss those.) A customer
without orders is not an error: the list is empty, as ``/v1/recommendations`` answers unknown customers too.

>>> # curl 'http://127.0.0.1:8000/v1/customers/c042/orders?limit=5'
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BeforeValidator
from starlette.convertors import Convertor, register_url_convertor

from foodrec.serving.deps import Service, get_service
from foodrec.serving.schemas import (
    MAX_ID_LENGTH,
    MAX_RECENT_ORDERS,
    NO_CONTROL_CHARS,
    CustomerOrders,
    OrderedItem,
    PastOrder,
    integer_text,
)
from foodrec.serving.state import LoadedModel

router = APIRouter(prefix="/v1", tags=["customers"])


class AnyText(Convertor[str]):
    """Like Starlette's ``path`` (slashes included) but line breaks too, so every id reaches the route and a bad
    one gets the schema's 422 instead of a 404 from no route matching."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anytext", AnyText())

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARS, description="the customer's id"),
]


@router.get(
    # `:anytext`: ids may hold a slash (sent as %2F); an empty id or one with a line break reaches the route and
    # gets a clear 422.
    "/customers/{customer_id:anytext}/orders",
    response_model=CustomerOrders,
    summary="A customer's recent orders, newest first (the store plus the orders posted since)",
)
async def customer_orders(
    customer_id: CustomerId,
    limit: Annotated[
        int, Query(ge=1, le=MAX_RECENT_ORDERS, description="how many orders"), BeforeValidator(integer_text)
    ] = 5,
    service: Service = Depends(get_service),
) -> CustomerOrders:
    snapshot = service.state.snapshot
    model = snapshot.model_for(customer_id)
    recent = await asyncio.get_running_loop().run_in_executor(None, _read, model, customer_id, limit)
    describe = snapshot.catalogue.describe
    return CustomerOrders(
        customer_id=customer_id,
        variant=model.variant,
        level=model.level,
        orders=[
            PastOrder(
                at=order["at"],
                items=[OrderedItem(item_id=item, **describe(item, model.level)) for item in order["items"]],
            )
            for order in recent
        ],
    )


def _read(model: LoadedModel, customer_id: str, limit: int) -> list[dict]:
    with model.lock:  # the recommender's data is not read while an order is folded in
        return model.recommender.recent_orders(customer_id, limit)
