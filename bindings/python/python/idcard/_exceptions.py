"""The exceptions of idcard: all under :class:`Error`, each also a subclass of the built-in
exception people catch for its kind (``ValueError`` for bad data, ``OSError`` for files)."""


class Error(Exception):
    """Every error idcard raises."""


class InvalidNumber(Error, ValueError):
    """An identity number is not valid. ``kind`` names the reason (``check_character``,
    ``length``, ``character``, ``unknown_division`` ...), ``position`` the 1-based character it
    points at (or None); ``row`` the row of a bulk input, when there is one."""

    kind: str = ""
    position: "int | None" = None
    row: "int | None" = None


class FileError(Error, OSError):
    """A file could not be read or written (the message names it)."""


class CorruptSnapshot(Error, ValueError):
    """A snapshot or delta file is damaged: truncated, a checksum mismatch, a field out of
    range. The message names the file, the part and the byte offset."""


class NotASnapshot(CorruptSnapshot):
    """The file is not an idcard snapshot or delta at all."""


class UnsupportedVersion(Error):
    """The file's format version is not one this library reads."""


class DeltaOutOfOrder(Error):
    """A delta does not follow what the verifier has applied (or a snapshot is older than it);
    nothing was changed."""


class NoBlacklist(Error):
    """A blacklist question to a bank profile snapshot, which carries no blacklist."""


class StaleSnapshot(Error):
    """The verifier's data is older than the maximum age it was opened with."""


class CorruptJournal(Error, ValueError):
    """A journal record is damaged (the message names the segment and byte offset)."""
