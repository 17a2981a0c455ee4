"""idcard: China resident identity card numbers, verification snapshots and the journal of the
"three systems" (off-site acceptance, loss reporting, lost-and-found), for analysts.

The work is done by the Rust library (``idcard._idcard``); bulk calls release the GIL. NumPy
arrays of fixed-width strings (``S18``, or ASCII ``U18``) are handed over without a copy per item.
"""

from __future__ import annotations

import datetime as _dt
import math as _math
from typing import Any, Iterator, Sequence

import numpy as _np

from . import _idcard
from ._exceptions import (
    BadSignature,
    BeyondTimestamp,
    CorruptJournal,
    CorruptSnapshot,
    DeltaOutOfOrder,
    Error,
    FileError,
    FileTooLarge,
    FromTheFuture,
    InvalidNumber,
    KeyExpired,
    NeedsSnapshot,
    NoBlacklist,
    NotASnapshot,
    Rollback,
    StaleSnapshot,
    TrustFileError,
    TrustRequired,
    UnsignedFile,
    UnsupportedVersion,
    UntrustedFile,
    UntrustedKey,
)
from ._idcard import JournalEvent, NumberInfo, division_name, parse_number, version
from ._types import CardStatus

__all__ = [
    "BadSignature",
    "BeyondTimestamp",
    "CardStatus",
    "CorruptJournal",
    "CorruptSnapshot",
    "DEFAULT_MAX_AGE",
    "DeltaOutOfOrder",
    "Error",
    "FileError",
    "FileTooLarge",
    "FromTheFuture",
    "InvalidNumber",
    "Journal",
    "JournalEvent",
    "KeyExpired",
    "NeedsSnapshot",
    "NoBlacklist",
    "NotASnapshot",
    "NumberInfo",
    "Rollback",
    "StaleSnapshot",
    "TrustFileError",
    "TrustRequired",
    "UnsignedFile",
    "UnsupportedVersion",
    "UntrustedFile",
    "UntrustedKey",
    "Verifier",
    "build_snapshot",
    "check_numbers",
    "division_name",
    "parse_number",
    "version",
]

__version__ = version()

#: The default maximum age of a verifier's data, in seconds (a day).
DEFAULT_MAX_AGE: float = 86400.0


def _as_str(x: Any, i: int) -> str:
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and _math.isnan(x)):
        return ""  # missing: invalid, not an error
    raise TypeError(f"item {i} is {type(x).__name__}; identity numbers must be str (or None for missing)")


class _Ucs4:
    """A NumPy ``U`` array as its code points (no copy), handed to Rust as is."""

    def __init__(self, arr: _np.ndarray) -> None:
        self.width = arr.dtype.itemsize // 4
        self.codepoints = _np.ascontiguousarray(arr).view(_np.uint32).reshape(-1) if arr.size else _np.zeros(0, dtype=_np.uint32)
        self.n = arr.size


def _numbers(numbers: Any) -> "tuple[_np.ndarray | _Ucs4 | None, list[str] | None]":
    """A packed uint8 view for ``S18`` arrays, the code points of ``U`` arrays (no copy per
    item), else a list of str."""
    if isinstance(numbers, _np.ndarray):
        if numbers.ndim != 1:
            raise ValueError(f"numbers must be one-dimensional, not {numbers.ndim}-dimensional")
        kind, size = numbers.dtype.kind, numbers.dtype.itemsize
        if kind == "S" and size == 18:
            return _np.ascontiguousarray(numbers).view(_np.uint8), None
        if kind == "U" and size > 0:
            return _Ucs4(numbers), None
        if kind == "S":
            return None, [x.decode("latin-1") for x in numbers.tolist()]
        if kind in "UO":
            return None, [_as_str(x, i) for i, x in enumerate(numbers.tolist())]
        raise TypeError(f"numbers must hold strings, not {numbers.dtype}")
    if isinstance(numbers, (str, bytes)):
        raise TypeError("numbers must be a list or an array of str, not a single string")
    try:
        items = list(numbers)
    except TypeError:
        raise TypeError(f"numbers must be a list or an array of str, not {type(numbers).__name__}") from None
    return None, [_as_str(x, i) for i, x in enumerate(items)]


def _days(valid_from: Any, n: int) -> _np.ndarray:
    """Dates (datetime.date, ISO strings, datetime64) as int64 days since 1970; NaT stays out of
    range (invalid)."""
    if isinstance(valid_from, (_dt.date, str, _np.datetime64)):
        valid_from = [valid_from] * n
    arr = _np.asarray(valid_from)
    if arr.dtype.kind != "M":
        arr = _np.array(list(arr.tolist()) if arr.ndim else [arr.item()], dtype="datetime64[D]")
    arr = arr.astype("datetime64[D]").astype(_np.int64)
    if arr.shape != (n,):
        raise ValueError(f"{n} numbers but {arr.size} dates")
    return _np.ascontiguousarray(arr)


def check_numbers(numbers: Any, strict: bool = False, reasons: bool = False) -> Any:
    """Validate many numbers: a NumPy bool array (True: valid). With ``reasons=True``, also a
    list holding, for each invalid number, ``"kind: message"`` (None for valid ones).
    ``strict``: the division code must have been in force in the birth year (N3)."""
    packed, items = _numbers(numbers)
    if isinstance(packed, _Ucs4):
        if not reasons:
            return _idcard._check_ucs4(packed.codepoints, packed.width, strict)
        items = [str(x) for x in _np.asarray(numbers).tolist()]
    elif packed is not None:
        if not reasons:
            return _idcard._check_packed(packed, strict)
        items = [bytes(row).decode("latin-1") for row in _np.asarray(packed).reshape(-1, 18)]
    assert items is not None
    ok, why = _idcard._check_strs(items, strict, reasons)
    return (ok, why) if reasons else ok


class Verifier:
    """Answers "is this card reported lost?" from a snapshot file plus applied deltas.

    One verifier may be shared by threads; ``apply_delta`` and ``swap_snapshot`` may run while
    others verify."""

    def __init__(self, native: Any) -> None:
        self._v = native

    @classmethod
    def open(
        cls,
        path: Any,
        trust: Any = None,
        *,
        max_age: "float | None" = DEFAULT_MAX_AGE,
        allow_unsigned: bool = False,
        verify_checksums: bool = True,
        state_file: Any = None,
    ) -> "Verifier":
        """Open a snapshot the platform published.

        ``trust``: the platform's trust file (its pinned root keys); the snapshot, and every
        delta and timestamp applied later, must be signed by a key that chains to one of them,
        or the call raises (:class:`UnsignedFile`, :class:`BadSignature`, :class:`UntrustedKey`,
        :class:`KeyExpired`). Without a trust file only ``allow_unsigned=True`` opens anything
        (your own snapshot from :func:`build_snapshot`); ``info()["signature"]`` then says
        ``"unsigned"`` or ``"unchecked"``.

        ``max_age`` (seconds, default a day): unlisted cards answer STALE once the newest signed
        time reached (snapshot, delta or timestamp) is older; None: never stale.
        ``state_file``: where the verifier keeps the newest snapshot and sequence it reached, so
        that an older snapshot is refused after a restart (:class:`Rollback`)."""
        return cls(
            _idcard.Verifier.open(
                str(path),
                None if trust is None else str(trust),
                max_age,
                allow_unsigned,
                verify_checksums,
                None if state_file is None else str(state_file),
            )
        )

    def verify(self, number: str, valid_from: _dt.date) -> CardStatus:
        """The status of one card: the holder's number and the card's validity start."""
        return self._v.verify(number, valid_from)

    def verify_many(self, numbers: Any, valid_from: Any) -> _np.ndarray:
        """Statuses (uint8, the CardStatus values) of many cards. ``numbers``: a list or NumPy
        array of str (fastest: ``S18`` or ASCII ``U18``); ``valid_from``: a list of dates or a
        ``datetime64`` array (or one date for all)."""
        packed, items = _numbers(numbers)
        if isinstance(packed, _Ucs4):
            return self._v._verify_ucs4(packed.codepoints, packed.width, _days(valid_from, packed.n))
        if packed is not None:
            return self._v._verify_packed(packed, _days(valid_from, packed.size // 18))
        return self._v._verify_strs(items, _days(valid_from, len(items or [])))

    def apply_delta(self, path: Any) -> None:
        """Apply a delta file (in order; out of order raises DeltaOutOfOrder and changes
        nothing)."""
        self._v.apply_delta(str(path))

    def apply_delta_dir(self, path: Any) -> "dict[str, Any]":
        """Apply the signed timestamps and deltas of a directory (a publish folder) that follow
        on from where the verifier is, in sequence order, skipping other snapshots' deltas and
        those already applied. Returns ``{"applied": n, "timestamps": n, "skipped": [(file,
        reason), ...]}``: files that fail the signature check, are too large or are not deltas
        are skipped and named, never applied. A gap raises DeltaOutOfOrder naming the file."""
        return self._v.apply_delta_dir(str(path))

    def apply_timestamp(self, path: Any) -> None:
        """Take in a signed timestamp file (``.idct``): the platform vouching, at a time, for the
        newest sequence on a snapshot. Keeps the data fresh between deltas; deltas past it are
        refused (:class:`BeyondTimestamp`)."""
        self._v.apply_timestamp(str(path))

    def swap_snapshot(self, path: Any) -> None:
        """Swap in a newer snapshot file."""
        self._v.swap_snapshot(str(path))

    def blacklist_check(self, number: str) -> "dict[str, Any] | None":
        """A person's blacklist entry (police snapshots): ``reasons``, ``reason_bits``,
        ``source``, ``listed_on``; None when not listed. Bank snapshots raise NoBlacklist."""
        return self._v.blacklist_check(number)

    def info(self) -> "dict[str, Any]":
        """Header facts: snapshot id, profile, as-of time, counts, journal sequence, staleness,
        the signature (``"verified"``, ``"unchecked"``, ``"unsigned"``) and the signing key,
        deltas applied and verified, the newest timestamp's sequence, ``needs_snapshot``."""
        return self._v.info()

    def ensure_fresh(self) -> None:
        """Raise StaleSnapshot when the data is older than the maximum age."""
        self._v.ensure_fresh()


def _status_name(s: Any) -> str:
    if isinstance(s, CardStatus):
        return s.name.lower()
    if isinstance(s, (int, _np.integer)):
        return CardStatus(int(s)).name.lower()
    if isinstance(s, str):
        return s.strip().lower()
    raise TypeError(f"status must be a str or a CardStatus, not {type(s).__name__}")


def _rows(data: Any, columns: Sequence[str]) -> "list[tuple[Any, ...]]":
    """Rows of a pandas DataFrame (by column name) or of an iterable of tuples."""
    if hasattr(data, "columns") and hasattr(data, "itertuples"):
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ValueError(f"the DataFrame lacks the column(s) {', '.join(missing)}")
        return list(data[list(columns)].itertuples(index=False, name=None))
    return [tuple(r) for r in data]


def build_snapshot(
    path: Any,
    cards: Any,
    blacklist: Any = None,
    profile: str = "bank",
    as_of: "_dt.datetime | None" = None,
    journal_seq: int = 0,
) -> "dict[str, Any]":
    """Build a snapshot file. ``cards``: an iterable of ``(number, valid_from, status)`` (a date,
    a status name such as ``"lost"`` or a CardStatus) or a DataFrame with those columns.
    ``blacklist`` (police profile): ``(number, reason)`` rows, reason as flag names
    (``"forged|identity_card"``) or bits, or a DataFrame. Returns the header facts."""
    rows = _rows(cards, ("number", "valid_from", "status"))
    numbers = [_as_str(r[0], i) for i, r in enumerate(rows)]
    days = _days([r[1] for r in rows], len(rows)) if rows else _np.zeros(0, dtype=_np.int64)
    statuses = [_status_name(r[2]) for r in rows]
    bl_numbers: "list[str]" = []
    bl_reasons: "list[str]" = []
    if blacklist is not None:
        for i, r in enumerate(_rows(blacklist, ("number", "reason"))):
            bl_numbers.append(_as_str(r[0], i))
            bl_reasons.append(str(int(r[1])) if isinstance(r[1], (int, _np.integer)) else str(r[1]))
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=_dt.timezone.utc)
    return _idcard._build_snapshot(str(path), numbers, days, statuses, bl_numbers, bl_reasons, profile, as_of, journal_seq)


class Journal:
    """The journal of a data directory, read-only (an engine may be writing it). Iterate for
    :class:`JournalEvent` objects; ``to_pandas()`` for a DataFrame (pandas is optional).
    Identity numbers are not handed out (S2): cards appear as pseudonyms, people by division."""

    def __init__(self, native: Any) -> None:
        self._j = native

    @classmethod
    def open(cls, data_dir: Any) -> "Journal":
        """Open the journal of a data directory."""
        return cls(_idcard.Journal.open(str(data_dir)))

    def __iter__(self) -> Iterator[JournalEvent]:
        return iter(self._j.events())

    def events(self) -> "list[JournalEvent]":
        """Every record, checked."""
        return list(self._j.events())

    def trail(self, officer: str) -> "list[JournalEvent]":
        """One officer's whole trail (S2): what they did, read and were refused, and the
        attempts made in their name that failed authentication (recorded under
        ``UNAUTHENTICATED``, with ``claimed_officer``)."""
        return [e for e in self._j.events() if e.officer == officer or e.claimed_officer == officer]

    def to_pandas(self) -> Any:
        """A DataFrame: seq, at, month, officer, station, station_division, station_province,
        station_kind, kind, reason, command, card, holder_division, holder_province,
        claimed_officer."""
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Journal.to_pandas needs pandas: pip install 'idcard[pandas]'") from e
        cols = self._j._columns()
        df = pd.DataFrame(cols)
        if len(df):
            df["at"] = pd.to_datetime(df["at"], utc=True)
            df["month"] = df["at"].dt.strftime("%Y-%m")
            df["station_province"] = df["station_division"].str.slice(0, 2) + "0000"
            df["holder_province"] = df["holder_division"].str.slice(0, 2) + "0000"
        else:
            for c in ("month", "station_province", "holder_province"):
                df[c] = pd.Series(dtype=object)
        return df
