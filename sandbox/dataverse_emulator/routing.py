"""Routing and HTTP semantics of the data endpoints: status codes, headers, conditional requests, paging,
$batch, and the unbound actions. The rules behind them live in service.py (rows), rules.py / sales.py (tables),
actions.py and invoicing.py (actions); definition requests go to metadata/routes.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse

from . import errors
from .actions import ACTION_STATES, close_sales_order
from .batch import BatchRequest as BatchPart
from .batch import Transaction, encode_answers, parse_batch, run_batch, to_emulator_request
from .callers import BUSINESS_UNIT_ID, ORGANIZATION_ID
from .invoicing import ACTION as CONVERT_TO_INVOICE
from .invoicing import convert_sales_order_to_invoice, invoice_response
from .keys import RecordKey, parse_key, parse_resource
from .metadata.routes import RESOURCES as METADATA_RESOURCES
from .metadata.routes import MetadataRoutes
from .odata_filter import compile_filter, parse_select, sort_rows
from .responses import (
    error_response,
    etag,
    json_response,
    no_content,
    parse_prefer,
    representation,
    wants_annotations,
)
from .schema import Table
from .service import Service
from .store import Row
from .values import loads

DEFAULT_PAGE_SIZE = 5000  # Dataverse returns at most 5000 rows per page
_SKIP_TOKEN = re.compile(r'pagingcookie="offset:(\d+)"')
ACTIONS = (*ACTION_STATES, CONVERT_TO_INVOICE)


class Router:
    def __init__(
        self,
        service: Service,
        metadata: MetadataRoutes,
        transaction: Callable[[], Transaction],
        service_root: Callable[[], str],
        default_page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.service = service
        self.store = service.store
        self.metadata = metadata
        self.transaction = transaction  # a store transaction that also holds back the events of its writes
        self.root = service_root
        self.service_root_path = service.service_root_path
        self.default_page_size = default_page_size

    @property
    def service_root(self) -> str:
        return self.root()

    def operation_of(self, request: EmulatorRequest) -> str:
        """The operation name requests are counted (and faults targeted) by."""
        root = self.service_root_path + "/"
        if not request.path.startswith(root):
            return "unknown"
        try:
            resource = parse_resource(request.path[len(root) :])
        except errors.DataverseError:
            return "unknown"
        if resource.name == "$batch":
            return "batch" if request.method == "POST" else "unknown"
        if resource.name in ACTIONS or resource.name == "WhoAmI":
            return f"action:{resource.name}"
        if resource.name in METADATA_RESOURCES:
            return MetadataRoutes.operation(resource, request.method)
        if resource.name not in self.service.tables:
            return "unknown"
        has_key = resource.key is not None
        verb = {
            ("GET", True): "retrieve",
            ("GET", False): "query",
            ("POST", False): "create",
            ("PATCH", True): "update",
            ("DELETE", True): "delete",
        }.get((request.method, has_key))
        return f"{verb}:{resource.name}" if verb else "unknown"

    def route(self, request: EmulatorRequest, content_ids: Mapping[str, str] | None) -> EmulatorResponse:
        root = self.service_root_path + "/"
        if not request.path.startswith(root):
            raise errors.segment_not_found(request.path.strip("/").split("/")[0])
        resource = parse_resource(request.path[len(root) :])
        method = request.method
        if resource.name == "$batch":
            if method != "POST" or content_ids is not None:
                raise errors.method_not_allowed(method, "$batch")
            return self._batch(request)
        if resource.name in METADATA_RESOURCES:
            return self.metadata.route(request, resource)
        if resource.name in ACTIONS:
            if method != "POST":
                raise errors.method_not_allowed(method, resource.name)
            return self._action(resource.name, request, content_ids)
        if resource.name == "WhoAmI" and method == "GET":
            caller = self.service.context.caller
            return json_response(
                200,
                {
                    "@odata.context": f"{self.service_root}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": BUSINESS_UNIT_ID,
                    "UserId": caller.user_id,
                    "OrganizationId": ORGANIZATION_ID,
                },
            )
        table = self.service.tables.get(resource.name)
        if table is None:
            raise errors.segment_not_found(resource.name)
        if resource.rest:
            raise errors.not_supported("Addressing a property or navigation path")
        key = parse_key(table, resource.key) if resource.key is not None else None
        if key is None:
            if method == "GET":
                return self._query(table, request)
            if method == "POST":
                return self._create(table, request, content_ids)
        else:
            if method == "GET":
                return self._retrieve(table, key, request)
            if method == "PATCH":
                return self._upsert(table, key, request, content_ids)
            if method == "DELETE":
                return self._delete(table, key, request)
        raise errors.method_not_allowed(method, resource.name)

    def _action(
        self, name: str, request: EmulatorRequest, content_ids: Mapping[str, str] | None
    ) -> EmulatorResponse:
        if name == CONVERT_TO_INVOICE:
            invoice, columns = convert_sales_order_to_invoice(self.service, _body(request))
            context = f"{self.service_root}/$metadata#invoices/$entity"
            return json_response(
                200, {"@odata.context": context, **invoice_response(self.service, invoice, columns)}
            )
        close_sales_order(self.service, name, _body(request), self.service.resolver(content_ids))
        return no_content()

    # --- single-row operations ------------------------------------------------------------------------------
    def _retrieve(self, table: Table, key: RecordKey, request: EmulatorRequest) -> EmulatorResponse:
        _refuse_unsupported_options(request)
        row = self.service.require(table, key)
        if request.headers.get("if-none-match") == etag(row):
            return EmulatorResponse(304, b"", {"OData-Version": "4.0"})
        select = _select(request, table)
        body = {"@odata.context": self._context(table, select, single=True)}
        body |= representation(
            table, row, select, annotations=wants_annotations(parse_prefer(request.headers))
        )
        return json_response(200, body)

    def _create(
        self, table: Table, request: EmulatorRequest, content_ids: Mapping[str, str] | None
    ) -> EmulatorResponse:
        row = self.service.create(table, _body(request), self.service.resolver(content_ids))
        return self._written(table, row, request, created=True, in_batch=content_ids is not None)

    def _upsert(
        self, table: Table, key: RecordKey, request: EmulatorRequest, content_ids: Mapping[str, str] | None
    ) -> EmulatorResponse:
        """PATCH: upsert, or create-only (If-None-Match: *), update-only (If-Match: *) or optimistic (If-Match: etag)."""
        existing = self.service.find(table, key)
        if_match, if_none_match = request.headers.get("if-match"), request.headers.get("if-none-match")
        if if_none_match == "*" and existing is not None:
            raise errors.duplicate_record()
        if if_match is not None and existing is None:
            raise self.service.not_found(table, key)
        if if_match not in (None, "*") and existing is not None and if_match != etag(existing):
            raise errors.version_mismatch()
        resolve = self.service.resolver(content_ids)
        in_batch = content_ids is not None
        if existing is None:
            row = self.service.create(table, _body(request), resolve, key=key)
            return self._written(table, row, request, created=True, in_batch=in_batch)
        row = self.service.update(table, existing, _body(request), resolve)
        return self._written(table, row, request, created=False, in_batch=in_batch)

    def _delete(self, table: Table, key: RecordKey, request: EmulatorRequest) -> EmulatorResponse:
        row = self.service.require(table, key)
        if_match = request.headers.get("if-match")
        if if_match not in (None, "*") and if_match != etag(row):
            raise errors.version_mismatch()
        self.service.delete(table, row)
        return no_content()

    def _written(
        self, table: Table, row: Row, request: EmulatorRequest, *, created: bool, in_batch: bool
    ) -> EmulatorResponse:
        """204 with OData-EntityId, or with `Prefer: return=representation` 201 (created) / 200 (updated)."""
        entity_id = f"{self.service_root}/{table.entity_set}({row[table.primary_id]})"
        headers = {"OData-EntityId": entity_id}
        if in_batch and created:
            headers["Location"] = entity_id
        preferences = parse_prefer(request.headers)
        if preferences.get("return") != "representation":
            return no_content(headers)
        select = _select(request, table)
        body = {"@odata.context": self._context(table, select, single=True)}
        body |= representation(table, row, select, annotations=wants_annotations(preferences))
        return json_response(
            201 if created else 200, body, {**headers, "Preference-Applied": "return=representation"}
        )

    # --- queries -------------------------------------------------------------------------------------------
    def _query(self, table: Table, request: EmulatorRequest) -> EmulatorResponse:
        _refuse_unsupported_options(request)
        select = _select(request, table)
        rows: Sequence[Mapping[str, Any]] = self.store.rows(table.entity_set)
        if (text := request.query_value("$filter")) is not None:
            predicate = compile_filter(text, table)
            rows = [row for row in rows if predicate(row)]
        if (orderby := request.query_value("$orderby")) is not None:
            rows = sort_rows(rows, orderby, table)
        preferences = parse_prefer(request.headers)
        applied: list[str] = []
        body: dict[str, Any] = {"@odata.context": self._context(table, select, single=False)}
        if request.query_value("$count") == "true":
            body["@odata.count"] = min(len(rows), DEFAULT_PAGE_SIZE)
        top = _top(request)
        next_link: str | None = None
        if top is not None:
            rows = rows[:top]  # $top wins over odata.maxpagesize: no paging
        else:
            page_size = self._page_size(preferences, applied)
            offset = _offset(request)
            if offset + page_size < len(rows):
                next_link = self._next_link(table, request, offset + page_size, page_size)
            rows = rows[offset : offset + page_size]
        annotations = wants_annotations(preferences)
        if annotations:
            applied.append(f'odata.include-annotations="{preferences["odata.include-annotations"]}"')
        body["value"] = [representation(table, row, select, annotations=annotations) for row in rows]
        if next_link is not None:
            body["@odata.nextLink"] = next_link
        return json_response(200, body, {"Preference-Applied": ",".join(applied)} if applied else None)

    def _page_size(self, preferences: Mapping[str, str], applied: list[str]) -> int:
        requested = preferences.get("odata.maxpagesize")
        if requested is None:
            return self.default_page_size
        if not requested.isdigit() or int(requested) < 1:
            raise errors.query_syntax("odata.maxpagesize must be a positive integer.")
        applied.append(f"odata.maxpagesize={requested}")
        return min(int(requested), DEFAULT_PAGE_SIZE)

    def _next_link(self, table: Table, request: EmulatorRequest, offset: int, page_size: int) -> str:
        """An absolute URL repeating the query with a `$skiptoken` paging cookie, as Dataverse builds it."""
        params = {name: values for name, values in request.query.items() if name != "$skiptoken"}
        page = offset // page_size + 1
        cookie = f'<cookie pagenumber="{page}" pagingcookie="offset:{offset}" istracking="False" />'
        params["$skiptoken"] = [cookie]
        query = urlencode(params, doseq=True, safe="$,'()", quote_via=quote)  # keeps "$select=" readable
        return f"{self.service_root}/{table.entity_set}?{query}"

    def _context(self, table: Table, select: list[str] | None, *, single: bool) -> str:
        columns = f"({','.join(select)})" if select else ""
        return f"{self.service_root}/$metadata#{table.entity_set}{columns}{'/$entity' if single else ''}"

    # --- $batch --------------------------------------------------------------------------------------------
    def _batch(self, request: EmulatorRequest) -> EmulatorResponse:
        items = parse_batch(request.headers.get("content-type", ""), request.body)
        continue_on_error = parse_prefer(request.headers).get("odata.continue-on-error", "false") != "false"
        answers, status = run_batch(
            items, self._batch_part, self.transaction(), continue_on_error=continue_on_error
        )
        content_type, body = encode_answers(answers)
        headers = {"Content-Type": content_type, "OData-Version": "4.0"}
        if continue_on_error:
            headers["Preference-Applied"] = "odata.continue-on-error"
        return EmulatorResponse(status, body, headers)

    def _batch_part(self, part: BatchPart, content_ids: Mapping[str, str] | None) -> EmulatorResponse:
        try:
            inner = to_emulator_request(part, self.service_root_path, content_ids or {})
        except errors.DataverseError as error:
            return error_response(error)
        if content_ids is not None:  # inside a change set: its transaction is already open
            try:
                return self.route(inner, content_ids)
            except errors.DataverseError as error:
                return error_response(error)
        return self.atomic(lambda: self.route(inner, {}))

    def atomic(self, run: Callable[[], EmulatorResponse]) -> EmulatorResponse:
        """One request as one transaction: a failure leaves neither rows nor events behind."""
        transaction = self.transaction()
        transaction.begin()
        try:
            response = run()
        except errors.DataverseError as error:
            transaction.rollback()
            return error_response(error)
        except BaseException:
            transaction.rollback()
            raise
        transaction.commit()
        return response


# --- request helpers ----------------------------------------------------------------------------------------
def _body(request: EmulatorRequest) -> Any:
    try:
        return loads(request.body) if request.body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise errors.unreadable_json(request.path.rsplit("/", 1)[-1].split("(")[0]) from None


def _select(request: EmulatorRequest, table: Table) -> list[str] | None:
    text = request.query_value("$select")
    return parse_select(text, table) if text else None


def _top(request: EmulatorRequest) -> int | None:
    text = request.query_value("$top")
    if text is None:
        return None
    if not text.isdigit():
        raise errors.query_syntax(f"Invalid value '{text}' for $top query option found.")
    return int(text)


def _offset(request: EmulatorRequest) -> int:
    token = request.query_value("$skiptoken")
    if token is None:
        return 0
    match = _SKIP_TOKEN.search(token)
    if match is None:
        raise errors.query_syntax("The $skiptoken is not one this service issued.")
    return int(match[1])


def _refuse_unsupported_options(request: EmulatorRequest) -> None:
    if "$skip" in request.query:
        raise errors.query_syntax("Skip Clause is not supported in CRM")  # Dataverse's own words
    if "$expand" in request.query:
        raise errors.not_supported("$expand")
