"""What an order line and an invoice line share: they name a product (and its unit) or are write-ins.

Dataverse refuses a line with both a product and a write-in description, and a product without its unit, so
the choice is made in one place for both documents.
"""

from __future__ import annotations

from typing import Any

from shared.model.crm import ProductRef, Reference

MAX_WRITE_IN = 500  # productdescription's length


def product_or_write_in(
    fields: dict[str, Any], binds: dict[str, Reference], product: ProductRef | None, write_in: str
) -> None:
    """Bind the line to `product` (and its unit), or make it a write-in described by `write_in`."""
    if product is not None:
        fields["isproductoverridden"] = False
        binds["productid"] = Reference("products", product.product_id)
        if product.uom_id:
            binds["uomid"] = Reference("uoms", product.uom_id)
        return
    fields["isproductoverridden"] = True
    fields["productdescription"] = write_in[:MAX_WRITE_IN]
