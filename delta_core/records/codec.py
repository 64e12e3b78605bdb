"""The record codec and the store's key layout.

Value layout (little-endian), schema version 1::

    u8 version | u8 flags | i64 start_ns | i16 utc_offset | i32 exit | f64 duration
    | u16 n_extra | u32 lengths of command, cwd, session, host, user, shell, then of each
    extra key and value | the bytes of those strings, in that order | u32 crc32 of all before

``flags`` bit 0: exit known, bit 1: duration known. Strings are UTF-8; lone surrogates
survive (``surrogatepass``) so no command is ever refused. The checksum lets ``verify`` find a
flipped byte that LMDB itself would not notice. A reader keeps a decoder per version so old
shards stay readable after the format changes.

Keys are 16 bytes: the start time as big-endian nanoseconds, then the 8-byte record id, so a
cursor walk is a walk in time and the same record always lands on the same key.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence

from delta_core.records.identity import _ENC, _ERR, _digest
from delta_core.records.record import Record

SCHEMA_VERSION = 1
_HEAD = struct.Struct("<BBqhidH")
_LEN = struct.Struct("<I")
_CRC = struct.Struct("<I")
_KEY = struct.Struct(">Q8s")
#: Bytes in a record key (its start time, then 8 bytes of its id).
KEY_SIZE = _KEY.size


class CodecError(ValueError):
    """A stored value is not a valid record (corrupted or from an unknown future version)."""


def record_key(rec: Record) -> bytes:
    """The 16-byte, time-ordered key of a record."""
    return _KEY.pack(max(rec.start_ns, 0), bytes.fromhex(rec.ensure_id()))


def key_time_ns(key: bytes) -> int:
    """The start time (ns) held in a key, without decoding the value."""
    return _KEY.unpack(key)[0]


def time_key(ns: int) -> bytes:
    """The smallest key at or after ``ns``: where a time-range scan starts."""
    return _KEY.pack(max(ns, 0), b"\x00" * 8)


_SIX = struct.Struct("<6I")
_LENGTHS: dict[int, struct.Struct] = {6: _SIX}


def _lengths(count: int) -> struct.Struct:
    packer = _LENGTHS.get(count)
    if packer is None:
        packer = _LENGTHS[count] = struct.Struct(f"<{count}I")
    return packer


def _encode(rec: Record) -> tuple[bytes, list[bytes]]:
    """The value of ``rec`` and its strings' bytes (command, cwd, session, host, user, …).

    Written out field by field: an import encodes millions of records, and this is most of
    the cost of storing one.
    """
    command = rec.command.encode(_ENC, _ERR)
    cwd = rec.cwd.encode(_ENC, _ERR)
    session = rec.session.encode(_ENC, _ERR)
    host = rec.host.encode(_ENC, _ERR)
    user = rec.user.encode(_ENC, _ERR)
    shell = rec.shell.encode(_ENC, _ERR)
    raw = [command, cwd, session, host, user, shell]
    extra = rec.extra
    exit_, duration = rec.exit, rec.duration
    head = _HEAD.pack(
        SCHEMA_VERSION,
        (exit_ is not None) | ((duration is not None) << 1),
        rec.start_ns,
        rec.utc_offset,
        exit_ or 0,
        duration or 0.0,
        len(extra),
    )
    if extra:
        for k, v in extra.items():
            raw.append(k.encode(_ENC, _ERR))
            raw.append(v.encode(_ENC, _ERR))
        body = b"".join((head, _lengths(len(raw)).pack(*map(len, raw)), *raw))
    else:
        sizes = _SIX.pack(len(command), len(cwd), len(session), len(host), len(user), len(shell))
        body = b"".join((head, sizes, command, cwd, session, host, user, shell))
    return body + _CRC.pack(zlib.crc32(body)), raw


def encode(rec: Record) -> bytes:
    return _encode(rec)[0]


def encode_with_key(rec: Record) -> tuple[bytes, bytes]:
    """``(key, value)`` of a record, giving it its identity on the way (one pass of encoding)."""
    value, raw = _encode(rec)
    if rec.id:
        digest = bytes.fromhex(rec.id)
    else:
        digest = _digest(rec.start_ns, raw[0], raw[2], raw[3], raw[4])
        rec.id = digest.hex()
    start = rec.start_ns
    return _KEY.pack(start if start > 0 else 0, digest), value


_HEAD_SIX = struct.Struct(_HEAD.format + "6I")  # the head, then six lengths: no extras


def encode_many(records: Sequence[Record]) -> tuple[list[bytes], list[bytes]]:
    """The keys and values of records, giving each its identity: :func:`encode_with_key`
    for a batch, with the common record (no extras, no id yet) encoded inline.

    An import encodes millions of records and the calls and look-ups of the one-record path
    are half the cost of each; the bytes are the same.
    """
    keys: list[bytes] = []
    values: list[bytes] = []
    pack, key_pack, crc32, blake2b = _HEAD_SIX.pack, _KEY.pack, zlib.crc32, hashlib.blake2b
    crc_pack, join, sep, enc, err = _CRC.pack, b"".join, b"\x00".join, _ENC, _ERR
    for rec in records:
        if rec.extra or rec.id:
            key, value = encode_with_key(rec)
        else:
            command = rec.command.encode(enc, err)
            cwd = rec.cwd.encode(enc, err)
            session = rec.session.encode(enc, err)
            host = rec.host.encode(enc, err)
            user = rec.user.encode(enc, err)
            shell = rec.shell.encode(enc, err)
            exit_, duration, start = rec.exit, rec.duration, rec.start_ns
            body = join(
                (
                    pack(
                        SCHEMA_VERSION,
                        (exit_ is not None) | ((duration is not None) << 1),
                        start,
                        rec.utc_offset,
                        exit_ or 0,
                        duration or 0.0,
                        0,
                        len(command),
                        len(cwd),
                        len(session),
                        len(host),
                        len(user),
                        len(shell),
                    ),
                    command,
                    cwd,
                    session,
                    host,
                    user,
                    shell,
                )
            )
            value = body + crc_pack(crc32(body))
            # identity._digest, inlined
            h = blake2b(sep((command, session, host, user)), digest_size=8)
            h.update(start.to_bytes(8, "big", signed=True))
            digest = h.digest()
            rec.id = digest.hex()
            key = key_pack(start if start > 0 else 0, digest)
        keys.append(key)
        values.append(value)
    return keys, values


def _decode_v1(data: bytes, key: bytes | None) -> Record:
    if len(data) < _HEAD.size + _CRC.size:
        raise CodecError("record too short")
    body, (crc,) = data[:-4], _CRC.unpack_from(data, len(data) - 4)
    if zlib.crc32(body) != crc:
        raise CodecError("record checksum mismatch")
    _, flags, start_ns, offset, exit_, duration, n_extra = _HEAD.unpack_from(body)
    count = 6 + 2 * n_extra
    pos = _HEAD.size + 4 * count
    if pos > len(body):
        raise CodecError("record truncated")
    lengths = struct.unpack_from(f"<{count}I", body, _HEAD.size)
    if pos + sum(lengths) != len(body):
        raise CodecError("record lengths do not match its size")
    strings = []
    for n in lengths:
        strings.append(body[pos : pos + n].decode(_ENC, _ERR))
        pos += n
    extra = {strings[i]: strings[i + 1] for i in range(6, count, 2)}
    rid = key[8:16].hex() if key is not None else ""
    return Record(
        command=strings[0],
        start_ns=start_ns,
        cwd=strings[1],
        exit=exit_ if flags & 1 else None,
        duration=duration if flags & 2 else None,
        session=strings[2],
        host=strings[3],
        user=strings[4],
        shell=strings[5],
        utc_offset=offset,
        extra=extra,
        id=rid,
    )


_DECODERS = {1: _decode_v1}


def decode(data: bytes, key: bytes | None = None) -> Record:
    """Decode a stored value (its key supplies the record id); raise :class:`CodecError`."""
    if not data:
        raise CodecError("empty record")
    decoder = _DECODERS.get(data[0])
    if decoder is None:
        raise CodecError(f"unknown record schema version {data[0]}")
    try:
        return decoder(bytes(data), key)
    except struct.error as exc:
        raise CodecError(f"malformed record: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CodecError(f"malformed text in record: {exc.reason}") from None


def decode_brief(data: bytes) -> tuple[int, int, int | None, str]:
    """Only ``(start_ns, utc_offset, exit, command)``: what statistics need, decoded fast.

    Skips the checksum and the other fields; ``verify`` and :func:`decode` check everything.
    """
    if not data or data[0] != SCHEMA_VERSION:
        raise CodecError("not a version 1 record")
    _, flags, start_ns, offset, exit_, _, n_extra = _HEAD.unpack_from(data)
    (n,) = _LEN.unpack_from(data, _HEAD.size)
    start = _HEAD.size + 4 * (6 + 2 * n_extra)
    command = bytes(data[start : start + n]).decode(_ENC, _ERR)
    return start_ns, offset, (exit_ if flags & 1 else None), command
