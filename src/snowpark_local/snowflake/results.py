"""Large results in chunks, as Snowflake sends them: a first part inline, then chunks the
connector downloads while the client reads."""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from contextvars import ContextVar

import pyarrow as pa
from fakesnow.arrow import to_ipc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# --- Large results in chunks, as Snowflake sends them -----------------------------------------

# Snowflake's result chunks hold up to about 16 MB; the first part comes inline, smaller.
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
KEPT_RESULTS = 8  # results whose chunks stay downloadable (the connector may retry a chunk)


class ChunkedResults:
    """Splits a result into an inline first part and chunks served by GET, as Snowflake does."""

    def __init__(self, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        self.chunk_bytes = chunk_bytes
        self._results: OrderedDict[str, tuple[pa.Table, list[int]]] = OrderedDict()
        self._lock = threading.Lock()
        # fakesnow serialises the whole result in query_request; it hands it to us here instead.
        self._pending: ContextVar[pa.Table | None] = ContextVar("pending_result", default=None)

    def _rows(self, table: pa.Table, size: int) -> int:
        return max(1, int(size / max(1, table.nbytes / max(1, table.num_rows))))

    def first_part(self, table: pa.Table):
        """Used as fakesnow's to_ipc: the inline part only, the full table kept for chunks."""
        inline = self._rows(table, self.chunk_bytes // 16)
        if table.num_rows <= inline:
            return to_ipc(table)
        self._pending.set(table)
        return to_ipc(table.slice(0, inline))

    def add_chunks(self, request: Request, response: Response) -> Response:
        table = self._pending.get()
        if table is None:
            return response
        self._pending.set(None)
        payload = json.loads(response.body)
        inline = self._rows(table, self.chunk_bytes // 16)
        size = self._rows(table, self.chunk_bytes)
        offsets = list(range(inline, table.num_rows, size))
        key = uuid.uuid4().hex
        with self._lock:
            self._results[key] = (table, offsets)
            while len(self._results) > KEPT_RESULTS:
                self._results.popitem(last=False)
        base = f"{request.url.scheme}://{request.url.netloc}/tutorial-chunks/{key}"
        chunks = []
        for index, offset in enumerate(offsets):
            rows = min(size, table.num_rows - offset)
            nbytes = table.slice(offset, rows).nbytes
            chunks.append(
                {
                    "url": f"{base}/{index}",
                    "rowCount": rows,
                    "uncompressedSize": nbytes,
                    "compressedSize": nbytes,
                }
            )
        payload["data"]["chunks"] = chunks  # `total` stays the full row count
        return JSONResponse(payload)

    async def chunk(self, request: Request) -> Response:
        with self._lock:
            found = self._results.get(request.path_params["key"])
        index = request.path_params["index"]
        if found is None or index >= len(found[1]):
            return Response(status_code=404)
        table, offsets = found
        offset = offsets[index]
        rows = min(self._rows(table, self.chunk_bytes), table.num_rows - offset)
        body = to_ipc(table.slice(offset, rows))
        return Response(body.to_pybytes(), media_type="application/octet-stream")


chunked = ChunkedResults()
