"""A record's identity: the same command at the same moment in the same session is one record.

The id is a digest of the command, session, host, user and start time; importing a history
twice therefore adds nothing. Both :class:`~delta_core.records.record.Record` (giving itself an
id) and the codec (keying what it stores) compute it here. Imports only the standard library.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from delta_core.records.record import Record

_ENC = "utf-8"
_ERR = "surrogatepass"


def _digest(start_ns: int, command: bytes, session: bytes, host: bytes, user: bytes) -> bytes:
    h = hashlib.blake2b(b"\x00".join((command, session, host, user)), digest_size=8)
    h.update(start_ns.to_bytes(8, "big", signed=True))
    return h.digest()


def identity(rec: Record) -> str:
    """The id :func:`delta_core.records.codec.encode_with_key` gives ``rec``, without encoding the rest of it.

    :meth:`Record.ensure_id` gives a record its id this way before it is stored.
    """
    return _digest(
        rec.start_ns,
        rec.command.encode(_ENC, _ERR),
        rec.session.encode(_ENC, _ERR),
        rec.host.encode(_ENC, _ERR),
        rec.user.encode(_ENC, _ERR),
    ).hex()
