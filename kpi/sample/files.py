"""Byte-for-byte reproducible CSV and XLSX writers."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# openpyxl stamps "now" into docProps/core.xml and into every zip member; both are pinned to this.
FIXED_MOMENT = dt.datetime(2026, 1, 1, 0, 0, 0)
DATE_FORMAT, DURATION_FORMAT = "dd/mm/yyyy hh:mm:ss", "[h]:mm:ss"


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return path


def _cell(sheet: WriteOnlyWorksheet, value: object) -> object:
    """Dates and durations need a number format, or Excel shows them as bare serial numbers."""
    if isinstance(value, dt.datetime | dt.time):
        # openpyxl writes time cells; its stubs leave time out of the value type.
        cell = WriteOnlyCell(sheet, value)  # type: ignore[arg-type]
        cell.number_format = DATE_FORMAT if isinstance(value, dt.datetime) else DURATION_FORMAT
        return cell
    return value


def write_xlsx(
    path: Path, sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(list(header))
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
    book.properties.creator = "kpi sample"
    book.properties.created = book.properties.modified = FIXED_MOMENT
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(_pin_zip(buffer.getvalue()))
    return path


def _pin_zip(data: bytes) -> bytes:
    """Rewrite the archive with fixed member dates and a fixed modified time in core.xml."""
    fixed = FIXED_MOMENT.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + fixed.encode() + rb"\g<2>",
                    content,
                )
            member = zipfile.ZipInfo(info.filename, date_time=FIXED_MOMENT.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            target.writestr(member, content)
    return out.getvalue()
