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


class UntrustedFile(Error):
    """A published file failed the signature check against the trust file: the verifier did
    not take it in (fail closed)."""


class UnsignedFile(UntrustedFile):
    """The file carries no signature, and unsigned files were not allowed."""


class BadSignature(UntrustedFile):
    """The signature does not verify, the content does not match the signed hash, the file is
    signed as another kind of file, or the signature block is malformed: the file was altered
    or forged."""


class UntrustedKey(UntrustedFile):
    """The file is signed by a key the trust file neither holds nor certifies (or certifies for
    other kinds of file)."""


class KeyExpired(UntrustedFile):
    """The signing key's certificate was not valid when the file was made."""


class TrustRequired(Error):
    """No trust file was given, and unsigned files were not allowed: pass the platform's trust
    file (or ``allow_unsigned=True`` for a snapshot you built yourself)."""


class TrustFileError(Error, ValueError):
    """The trust file (or a key file) cannot be read or parsed."""


class Rollback(Error):
    """The file would take the verifier back: an older snapshot or sequence than it has reached
    or recorded in its state file (a replayed file)."""


class FromTheFuture(Error):
    """The file states a time further in the future than clocks can disagree."""


class BeyondTimestamp(Error):
    """A delta reaches past the newest sequence the platform's signed timestamp vouches for."""


class FileTooLarge(Error, ValueError):
    """A delta or timestamp larger than the verifier reads (checked before reading it)."""


class NeedsSnapshot(Error):
    """The changes applied on this snapshot reached the verifier's limit: open a newer one."""


class CorruptJournal(Error, ValueError):
    """A journal record is damaged (the message names the segment and byte offset)."""
