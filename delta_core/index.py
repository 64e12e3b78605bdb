"""The index environment: data derived from the shards, for fast prefix search and statistics.

Tables (LMDB named databases):

``commands``
    command key -> stats (count, successes, failures, first and last use, last cwd). The key is
    the command's UTF-8 bytes (cut at :data:`KEY_LIMIT` with a hash suffix when longer), so a
    prefix search is a cursor range scan.
``sessions``
    session id -> first and last use and command count.
``days``
    local day -> records indexed for that day; ``verify`` compares it with the shards to
    notice a process killed between its shard commit and its index commit.
``imports``
    import origin -> record key, so re-importing a history without timestamps adds nothing.
``successors``
    (previous command, next command) -> how often the second followed the first in a session,
    and when last: the "previous command" feature of the suggest engine. The key is the
    previous command's key with its length in front, so one prefix scan gives every successor.
``session_tails``
    session -> the key and command of its newest record, so successors are counted as records
    arrive. A record older than its session's newest (an out-of-order write) adds no pair;
    ``reindex`` walks the shards in order and counts every pair.
``feedback``
    suggestion feedback events (kept by ``reindex``: they are not derived from the shards).

Everything but ``imports`` and ``feedback`` is rebuilt by ``delta memory reindex``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import lmdb

from delta_core.record import Record, day_name

KEY_LIMIT = 480  # LMDB's default maximum key size is 511 bytes
PAIR_LIMIT = 240  # each half of a successor key: two of them fit one LMDB key
_STATS = struct.Struct("<IIIqqI")
_SESSION = struct.Struct("<qqI")
_COUNT = struct.Struct("<Q")
_SUCC = struct.Struct("<Iq")
_KLEN = struct.Struct(">H")
_TAIL = struct.Struct("<qq8s")
DERIVED_TABLES = (b"commands", b"sessions", b"days", b"successors", b"session_tails")
ALL_TABLES = (*DERIVED_TABLES, b"imports", b"feedback")


def command_key(command: str, limit: int = KEY_LIMIT) -> bytes:
    """The index key of a command: its bytes, or a cut prefix plus a hash when too long."""
    raw = command.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return raw
    digest = hashlib.blake2b(raw, digest_size=8).digest()
    return raw[:limit] + b"\x00" + digest


@dataclass(slots=True)
class CommandStats:
    """How a distinct command has been used: the basis of frecency and prefix search."""

    command: str
    count: int = 0
    successes: int = 0
    failures: int = 0
    first_ns: int = 0
    last_ns: int = 0
    last_cwd: str = ""

    def add(self, rec: Record) -> None:
        if self.count == 0 or rec.start_ns < self.first_ns:
            self.first_ns = rec.start_ns
        if self.count == 0 or (rec.start_ns, rec.cwd) > (self.last_ns, self.last_cwd):
            self.last_ns = rec.start_ns
            self.last_cwd = rec.cwd
        self.count += 1
        if rec.exit is not None:
            if rec.exit == 0:
                self.successes += 1
            else:
                self.failures += 1

    def merge(self, other: CommandStats) -> None:
        """Fold in stats gathered for the same command elsewhere (a batch, another day)."""
        if self.count == 0:
            self.first_ns, self.last_ns, self.last_cwd = (
                other.first_ns,
                other.last_ns,
                other.last_cwd,
            )
        else:
            self.first_ns = min(self.first_ns, other.first_ns)
            # ties broken by cwd so that any insertion order gives the same index
            if (other.last_ns, other.last_cwd) > (self.last_ns, self.last_cwd):
                self.last_ns, self.last_cwd = other.last_ns, other.last_cwd
        self.count += other.count
        self.successes += other.successes
        self.failures += other.failures

    def encode(self, long_key: bool) -> bytes:
        cwd = self.last_cwd.encode("utf-8", "surrogatepass")
        head = _STATS.pack(
            self.count, self.successes, self.failures, self.first_ns, self.last_ns, len(cwd)
        )
        tail = self.command.encode("utf-8", "surrogatepass") if long_key else b""
        return head + cwd + tail

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> CommandStats:
        count, ok, fail, first, last, n = _STATS.unpack_from(value)
        pos = _STATS.size
        cwd = value[pos : pos + n].decode("utf-8", "surrogatepass")
        tail = value[pos + n :]
        command = (tail or key).decode("utf-8", "surrogatepass")
        return cls(command, count, ok, fail, first, last, cwd)


def successor_prefix(previous: str) -> bytes:
    """The key prefix of every successor pair of ``previous``."""
    key = command_key(previous, PAIR_LIMIT)
    return _KLEN.pack(len(key)) + key


def _tail_session(rec: Record) -> str:
    # Imported plain histories carry no session id: one stream per host, user and shell.
    return rec.session or f"h:{rec.host}|{rec.user}|{rec.shell}"


class Index:
    """The index environment's tables and the operations the store performs on them."""

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self.db = {name: env.open_db(name) for name in ALL_TABLES}

    # --- writing (inside a write transaction owned by the caller) -----------------------
    def add_records(self, txn: lmdb.Transaction, records: Iterable[Record]) -> None:
        """Fold newly stored records into the derived tables."""
        by_cmd: dict[bytes, CommandStats] = {}
        sessions: dict[str, list[int]] = {}
        days: dict[int, int] = {}
        streams: dict[str, list[tuple[tuple[int, int, str], Record]]] = {}
        stats_of: dict[str, CommandStats] = {}  # histories repeat: one key per distinct command
        for rec in records:
            st = stats_of.get(rec.command)
            if st is None:
                key = command_key(rec.command)
                st = by_cmd.get(key)
                if st is None:
                    st = by_cmd[key] = CommandStats(rec.command)
                stats_of[rec.command] = st
            st.add(rec)
            if rec.session:
                s = sessions.get(rec.session)
                if s is None:
                    sessions[rec.session] = [rec.start_ns, rec.start_ns, 1]
                else:
                    if rec.start_ns < s[0]:
                        s[0] = rec.start_ns
                    if rec.start_ns > s[1]:
                        s[1] = rec.start_ns
                    s[2] += 1
            day = rec.day_number
            days[day] = days.get(day, 0) + 1
            order = (day, rec.start_ns if rec.start_ns > 0 else 0, rec.id)
            stream = streams.get(_tail_session(rec))
            if stream is None:
                streams[_tail_session(rec)] = [(order, rec)]
            else:
                stream.append((order, rec))
        self._merge(txn, by_cmd, sessions, {day_name(d): n for d, n in days.items()})
        self._add_successors(txn, streams)

    def _add_successors(
        self, txn: lmdb.Transaction, streams: dict[str, list[tuple[tuple[int, int, str], Record]]]
    ) -> None:
        tdb = self.db[b"session_tails"]
        pairs: dict[bytes, list] = {}
        prefixes: dict[str, bytes] = {}  # previous command -> its successor key prefix
        pair_keys: dict[str, bytes] = {}  # next command -> its half of the pair key
        for sid, items in streams.items():
            if any(items[i][0] > items[i + 1][0] for i in range(len(items) - 1)):
                items.sort(key=lambda it: it[0])
            skey = sid.encode("utf-8", "surrogatepass")[:KEY_LIMIT]
            old = txn.get(skey, db=tdb)
            if old is not None:
                day, ns, rid = _TAIL.unpack_from(old)
                last = (day, ns, rid.hex())
                prev = old[_TAIL.size :].decode("utf-8", "surrogatepass")
            else:
                last, prev = None, None
            for order, rec in items:
                if last is not None and order <= last:
                    continue  # older than what this session already holds: see module doc
                if prev is not None:
                    head = prefixes.get(prev)
                    if head is None:
                        head = prefixes[prev] = successor_prefix(prev)
                    nkey = pair_keys.get(rec.command)
                    if nkey is None:
                        nkey = pair_keys[rec.command] = command_key(rec.command, PAIR_LIMIT)
                    k = head + nkey
                    item = pairs.get(k)
                    if item is None:
                        long_cmd = rec.command if len(nkey) > PAIR_LIMIT else ""
                        pairs[k] = [1, rec.start_ns, long_cmd]
                    else:
                        item[0] += 1
                        if rec.start_ns > item[1]:
                            item[1] = rec.start_ns
                last, prev = order, rec.command
            if prev is not None:
                day, ns, rid = last
                value = _TAIL.pack(day, ns, bytes.fromhex(rid or "00" * 8))
                txn.put(skey, value + prev.encode("utf-8", "surrogatepass"), db=tdb)
        sdb = self.db[b"successors"]
        for k, (n, last_ns, long_cmd) in pairs.items():
            old = txn.get(k, db=sdb)
            if old is not None:
                n0, l0 = _SUCC.unpack_from(old)
                n, last_ns = n + n0, max(last_ns, l0)
            txn.put(k, _SUCC.pack(n, last_ns) + long_cmd.encode("utf-8", "surrogatepass"), db=sdb)

    def _merge(self, txn, by_cmd, sessions, days) -> None:
        cdb, sdb, ddb = self.db[b"commands"], self.db[b"sessions"], self.db[b"days"]
        for key, st in by_cmd.items():
            old = txn.get(key, db=cdb)
            if old is not None:
                merged = CommandStats.decode(key, old)
                merged.merge(st)
                st = merged
            txn.put(key, st.encode(len(key) > KEY_LIMIT), db=cdb)
        for sid, (first, last, n) in sessions.items():
            k = sid.encode("utf-8", "surrogatepass")[:KEY_LIMIT]
            old = txn.get(k, db=sdb)
            if old is not None:
                f0, l0, n0 = _SESSION.unpack(old)
                first, last, n = min(first, f0), max(last, l0), n + n0
            txn.put(k, _SESSION.pack(first, last, n), db=sdb)
        for day, n in days.items():
            k = day.encode()
            old = txn.get(k, db=ddb)
            total = n + (_COUNT.unpack(old)[0] if old is not None else 0)
            txn.put(k, _COUNT.pack(total), db=ddb)

    def remove_commands(self, txn: lmdb.Transaction, commands: Iterable[str]) -> None:
        """Drop the stats of commands whose every record was removed."""
        for cmd in commands:
            txn.delete(command_key(cmd), db=self.db[b"commands"])

    def clear_derived(self, txn: lmdb.Transaction) -> None:
        for name in DERIVED_TABLES:
            txn.drop(self.db[name], delete=False)

    # --- reading ------------------------------------------------------------------------
    def iter_commands(self, txn: lmdb.Transaction, prefix: str = "") -> Iterator[CommandStats]:
        """Every distinct command starting with ``prefix``, in byte order (a range scan)."""
        raw = prefix.encode("utf-8", "surrogatepass")
        cur = txn.cursor(db=self.db[b"commands"])
        if not cur.set_range(raw):
            return
        for key, value in cur:
            if not key.startswith(raw):
                break
            yield CommandStats.decode(key, value)

    def successors(
        self, txn: lmdb.Transaction, previous: str, prefix: str = ""
    ) -> Iterator[tuple[str, int, int]]:
        """``(command, count, last_ns)`` of each command run right after ``previous``.

        Only those starting with ``prefix``; a range scan, in the commands' byte order.
        """
        head = successor_prefix(previous)
        start = head + prefix.encode("utf-8", "surrogatepass")[:PAIR_LIMIT]
        cur = txn.cursor(db=self.db[b"successors"])
        if not cur.set_range(start):
            return
        n = len(head)
        for key, value in cur:
            if not key.startswith(start):
                break
            count, last_ns = _SUCC.unpack_from(value)
            command = (value[_SUCC.size :] or key[n:]).decode("utf-8", "surrogatepass")
            if command.startswith(prefix):
                yield command, count, last_ns

    def get_command(self, txn: lmdb.Transaction, command: str) -> CommandStats | None:
        value = txn.get(command_key(command), db=self.db[b"commands"])
        return None if value is None else CommandStats.decode(command_key(command), value)

    def day_counts(self, txn: lmdb.Transaction) -> dict[str, int]:
        return {k.decode(): _COUNT.unpack(v)[0] for k, v in txn.cursor(db=self.db[b"days"])}

    def session_count(self, txn: lmdb.Transaction) -> int:
        return txn.stat(self.db[b"sessions"])["entries"]

    def snapshot(self, txn: lmdb.Transaction) -> dict[bytes, list[tuple[bytes, bytes]]]:
        """Every derived table's raw contents, for comparing two indexes."""
        return {name: list(txn.cursor(db=self.db[name])) for name in DERIVED_TABLES}
