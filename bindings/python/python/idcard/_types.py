"""Plain-Python types of idcard."""

import enum


class CardStatus(enum.IntEnum):
    """The answer to "is this card reported lost?" (the C library's IDC_CARD_* values)."""

    VALID = 0
    LOST = 1
    STOLEN = 2
    SUPERSEDED = 3
    INVALIDATED = 4
    STALE = 5
    INVALID_NUMBER = 6
    EXPIRED = 7

    @property
    def refused(self) -> bool:
        """Whether a counter must refuse the card (anything but VALID)."""
        return self is not CardStatus.VALID
