"""A payroll run's file, as a payroll firm exports it: one row a plan of monthly wages for one payee.

CSV (UTF-8, a header line naming the columns, in any order) or JSON lines (one object a line, the same
names as keys). Fields:

| field | required | meaning |
| --- | --- | --- |
| payee | yes | the payee's party id (`pty_12`) or address: a product with the run's payer must be open |
| product | where the payee has several open products with the payer | the product's id (`prd_7`) |
| amounts | yes | each month's wage in the token's units, `;`-separated: `8000.00;8000.00;8500.00` |
| first_release | yes | the first month's release date, ISO (`2027-01-31`), in the run's time zone |
| deposit_days | no (10) | how many days before each release its deposit is due |
| rule | no (`time`) | `time`, `payer_approval` or `materials` |
| required_materials | for `materials` | what the payee delivers each month, `;`-separated |
| verification | no | how a release is verified, in words |

Month k (from 0) is released at the run's `release_time` on the first release's day k months on (the
month's last day where it is shorter), in the run's time zone: exact, daylight saving included.
"""

from __future__ import annotations

import csv
import io
import json
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daifa.domain.limits import MAX_MATERIALS, MAX_NAME, MAX_TEXT
from daifa.domain.plans import MAX_INSTALMENTS
from daifa.errors import InvalidInput, Problem

MAX_ROWS = 10_000  # rows of one run
MAX_FILE_BYTES = 8 * 1024 * 1024  # 10,000 rows of a year's wages each fit many times over
MAX_LINE = 16_384  # characters of one line: 252 amounts, 20 materials and a verification text fit
DAY = 86_400
FIELDS = ("payee", "product", "amounts", "first_release", "deposit_days", "rule", "required_materials", "verification")
REQUIRED = ("payee", "amounts", "first_release")
RULES = ("time", "payer_approval", "materials")
_AMOUNT = re.compile(r"^\d{1,30}(\.\d{1,30})?$")  # plain decimals: no signs, exponents or separators


class Funding(StrEnum):
    """How a run's plans reach the chain and are funded."""

    AFTER_RECORDING = "after_recording"  # the platform records each plan; the payer deposits later
    AT_RECORDING = "at_recording"  # the payer's wallet records signed plans in batches, funding them in full


class RunStatus(StrEnum):
    CREATING = "creating"  # checked whole and kept; the worker makes its rows plans, a chunk at a time
    CREATED = "created"  # every row is a plan
    STOPPED = "stopped"  # a row no longer passed when its turn came (its product closed, say): see the error


@dataclass(frozen=True)
class RunSchedule:
    """Where the run's dates are: the IANA time zone and the time of day releases fall at."""

    time_zone: ZoneInfo
    release_time: time

    @classmethod
    def parse(cls, time_zone: str, release_time: str) -> RunSchedule:
        problems = []
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(Problem("time_zone", f"{time_zone!r} is no IANA time zone: Asia/Shanghai, UTC, ..."))
        try:
            at = time.fromisoformat(release_time)
        except ValueError:
            problems.append(Problem("release_time", f"{release_time!r} is no time of day: 09:00"))
        if problems:
            raise InvalidInput(problems)
        return cls(zone, at)

    def release_at(self, first: date, month: int) -> int:
        """The unix time of month `month`'s release (0 is the first)."""
        year, index = divmod(first.month - 1 + month, 12)
        year += first.year
        day = min(first.day, monthrange(year, index + 1)[1])
        return int(datetime.combine(date(year, index + 1, day), self.release_time, self.time_zone).timestamp())


@dataclass(frozen=True)
class PayrollRow:
    """One row: the wages of one plan, amounts still in the token's units (the token is the product's)."""

    line: int
    payee: str
    product: str  # empty: the payee's one open product with the payer
    amounts: tuple[Decimal, ...]
    releases: tuple[int, ...]
    deposit_days: int
    rule: str
    required_materials: tuple[str, ...]
    verification: str


def parse(filename: str, data: bytes, schedule: RunSchedule) -> tuple[list[PayrollRow], list[Problem]]:
    """The rows that read well, and a problem for every wrong field of the others (each with its line);
    InvalidInput if the file as a whole cannot be read."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput([Problem("file", f"at most {MAX_FILE_BYTES // (1024 * 1024)} MiB: split the run")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput([Problem("file", f"must be UTF-8 text (byte {error.start} is not)")]) from None
    records = _json_lines(text) if filename.lower().endswith((".jsonl", ".ndjson")) else _csv(text)
    if not records:
        raise InvalidInput([Problem("file", "has no rows")])
    if len(records) > MAX_ROWS:
        raise InvalidInput([Problem("file", f"has {len(records)} rows; a run has at most {MAX_ROWS}: split it")])
    rows, problems = [], []
    for line, record in records:
        try:
            rows.append(_row(line, record, schedule))
        except InvalidInput as error:
            problems += error.problems
    return rows, problems


def units_of(text: str, decimals: int, field: str) -> int:
    """An amount a person typed in the token's units (`1250.50`), in its smallest unit; InvalidInput for
    anything but a plain decimal (no sign, exponent, NaN or infinity, so no huge integer is ever built)
    or one with more decimals than the token has."""
    if not _AMOUNT.match(text):
        raise InvalidInput([Problem(field, f"{text[:40]!r} is not an amount in the token's units: 1250.50")])
    return to_units(Decimal(text), decimals, field)


def to_units(amount: Decimal, decimals: int, field: str = "amounts") -> int:
    """`amount` in the token's smallest unit, exactly, or InvalidInput if the token cannot show it."""
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InvalidInput([Problem(field, f"{amount} has more decimals than the token's {decimals}")])
    return int(scaled)


def _csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    lines = text.splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        raise InvalidInput([Problem("file", f"a line is longer than {MAX_LINE} characters")])
    # newline="" as the csv module asks: a lone CR ends a line (as splitlines above counts them) instead of
    # being an error inside an unquoted field.
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra")
    try:
        return _csv_records(reader)
    except csv.Error as error:  # a quoted field longer than the csv module takes, say
        line = reader.line_num + 1  # the module counts the lines of the rows it read whole
        detail = f"the row from line {line} cannot be read as CSV ({error}): check its quotes"
        raise InvalidInput([Problem("file", detail, line)]) from None


def _csv_records(reader: csv.DictReader[str]) -> list[tuple[int, dict[str, Any]]]:
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = sorted(set(header) - set(FIELDS))
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing:
        raise InvalidInput(
            [
                Problem(
                    "header",
                    f"columns are {', '.join(FIELDS)}; unknown: {unknown or 'none'}, missing: {missing or 'none'}",
                )
            ]
        )
    reader.fieldnames = header
    records = []
    for record in reader:
        if "_extra" in record:
            raise InvalidInput([Problem("file", "a row has more values than the header has columns", reader.line_num)])
        if any(value for value in record.values()):
            records.append((reader.line_num, {k: (v or "").strip() for k, v in record.items()}))
    return records


def _json_lines(text: str) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            raise InvalidInput([Problem("file", f"longer than {MAX_LINE} characters", number)])
        try:
            record = json.loads(line)
        except ValueError:
            raise InvalidInput([Problem("file", "is not one JSON object", number)]) from None
        if not isinstance(record, dict):
            raise InvalidInput([Problem("file", "is not one JSON object", number)])
        unknown = sorted(set(record) - set(FIELDS))
        if unknown:
            raise InvalidInput([Problem("file", f"unknown fields {unknown}; fields are {', '.join(FIELDS)}", number)])
        records.append((number, {k: v if isinstance(v, str) else json.dumps(v) for k, v in record.items()}))
    return records


def _row(line: int, record: dict[str, str], schedule: RunSchedule) -> PayrollRow:
    problems: list[Problem] = []

    def problem(field: str, message: str) -> None:
        problems.append(Problem(field, message, line))

    for name in REQUIRED:
        if not record.get(name):
            problem(name, "is required")
    payee, product = record.get("payee", ""), record.get("product", "")
    if len(payee) > MAX_NAME:
        problem("payee", "is a party id (pty_12) or an address")
    if len(product) > MAX_NAME:
        problem("product", "is a product id (prd_7)")
    amounts: list[Decimal] = []
    for text in [a.strip() for a in record.get("amounts", "").split(";") if a.strip()]:
        if not _AMOUNT.match(text):
            problem("amounts", f"{text[:40]!r} is not an amount in the token's units: 8000.00")
            continue
        value = Decimal(text)  # the pattern admits only plain decimals, which Decimal always reads
        if value <= 0:
            problem("amounts", "every month's amount is more than 0")
        amounts.append(value)
    if len(amounts) > MAX_INSTALMENTS:
        problem("amounts", f"at most {MAX_INSTALMENTS} months in one plan")
    first = None
    if record.get("first_release"):
        try:
            first = date.fromisoformat(record["first_release"])
        except ValueError:
            problem("first_release", f"{record['first_release'][:40]!r} is no ISO date: 2027-01-31")
    deposit_days = 10
    if record.get("deposit_days"):
        text = record["deposit_days"]
        if not text.isdigit() or not 0 <= int(text) <= 366:
            problem("deposit_days", "a whole number of days from 0 to 366")
        else:
            deposit_days = int(text)
    rule = record.get("rule") or "time"
    if rule not in RULES:
        problem("rule", f"one of {', '.join(RULES)}")
    materials = tuple(m.strip() for m in (record.get("required_materials") or "").split(";") if m.strip())
    if len(materials) > MAX_MATERIALS or any(len(m) > MAX_NAME for m in materials):
        problem("required_materials", f"at most {MAX_MATERIALS} items of {MAX_NAME} characters")
    if rule == "materials" and not materials:
        problem("required_materials", "a materials plan lists what the payee delivers")
    verification = record.get("verification") or ""
    if len(verification) > MAX_TEXT:
        problem("verification", f"at most {MAX_TEXT} characters")
    if problems:
        raise InvalidInput(problems)
    assert first is not None
    releases = tuple(schedule.release_at(first, month) for month in range(len(amounts)))
    return PayrollRow(line, payee, product, tuple(amounts), releases, deposit_days, rule, materials, verification)
