"""A streamed download: chunks of text the browser saves under the given file name."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse

CSV = "text/csv; charset=utf-8"


def attachment(chunks: Iterator[str], filename: str, media_type: str = CSV) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
