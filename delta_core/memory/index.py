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
``successors2``
    (the two previous commands, next command) -> the same, one command of context longer: the
    suggest engine's trigram. The key starts with an 8-byte digest of the two previous
    commands' keys, so one prefix scan gives every command that followed that pair.
``session_ends``
    session -> the order of its newest record and the commands of its two newest, so successors
    are counted as records arrive. A record older than its session's newest (an out-of-order
    write) adds no pair; ``reindex`` walks the shards in order and counts every pair. (It
    replaces ``session_tails``, which held only the newest command; a store that still has
    that table starts each open session's context afresh, and ``reindex`` empties it.)
``feedback``
    suggestion feedback events (kept by ``reindex``: they are not derived from the shards).

Everything but ``imports`` and ``feedback`` is rebuilt by ``delta memory reindex``.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, islice
from operator import itemgetter, le

import lmdb

from delta_core.records.columns import Columns, positions_by_value
from delta_core.records.record import Record, day_name

KEY_LIMIT = 480  # LMDB's default maximum key size is 511 bytes
PAIR_LIMIT = 240  # each half of a successor key: two of them fit one LMDB key
_STATS = struct.Struct("<IIIqqI")
_SESSION = struct.Struct("<qqI")
_COUNT = struct.Struct("<Q")
_SUCC = struct.Struct("<Iq")
_KLEN = struct.Struct(">H")
_TAIL = struct.Struct("<qq8sI")  # day, start, id, the newest command's byte length
DERIVED_TABLES = (b"commands", b"sessions", b"days", b"successors", b"successors2", b"session_ends")
ALL_TABLES = (*DERIVED_TABLES, b"imports", b"feedback")
#: Derived tables of earlier versions: emptied by ``reindex`` (see the module doc).
OLD_TABLES = (b"session_tails",)


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

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> CommandStats:
        count, ok, fail, first, last, cwd, end = _stats_of(value)
        command = (value[end:] or key).decode("utf-8", "surrogatepass")
        return cls(command, count, ok, fail, first, last, cwd)


def _stats_of(value: bytes) -> tuple[int, int, int, int, int, str, int]:
    """``(count, successes, failures, first_ns, last_ns, last_cwd, end)`` of a stored stats
    value; a cut key's whole command follows from ``end``."""
    count, ok, fail, first, last, n = _STATS.unpack_from(value)
    end = _STATS.size + n
    return (
        count,
        ok,
        fail,
        first,
        last,
        value[_STATS.size : end].decode("utf-8", "surrogatepass"),
        end,
    )


def successor_prefix(previous: str) -> bytes:
    """The key prefix of every successor pair of ``previous``."""
    return _pair_head(previous, command_key(previous))


def context_prefix(before: str, previous: str) -> bytes:
    """The key prefix (``successors2``) of every command run right after ``before`` then
    ``previous``: a digest of the two commands' keys."""
    return _context_head(command_key(before), command_key(previous))


def _pair_head(previous: str, key: bytes) -> bytes:
    """:func:`successor_prefix`, given the previous command's index key too (a batch has
    it already): a pair's half is cut shorter than a command's own key."""
    if len(key) > PAIR_LIMIT:
        key = command_key(previous, PAIR_LIMIT)
    return _KLEN.pack(len(key)) + key


def _half(command: str, key: bytes) -> tuple[bytes, bytes]:
    """The next command's half of a successor key, given its index key, and what the value
    carries after the counts: the whole command when that half is cut, else nothing."""
    if len(key) <= PAIR_LIMIT:
        return key, b""
    return command_key(command, PAIR_LIMIT), command.encode("utf-8", "surrogatepass")


def _context_head(first: bytes, second: bytes) -> bytes:
    """:func:`context_prefix` from the two commands' index keys."""
    return hashlib.blake2b(_KLEN.pack(len(first)) + first + second, digest_size=8).digest()


_ID_BITS = 32  # a fold's commands are numbered; a pair packs two numbers, a triple three
_ID_MASK = (1 << _ID_BITS) - 1


def _grams(ids: list[int], starts: list[int], new: int, n: int) -> tuple[list[int], list[int]]:
    """Each run of ``n`` commands in ``ids`` (a session's commands, numbered) that ends at one
    of its new commands (those from index ``new`` on; ``starts`` are theirs), packed into one
    int (:data:`_ID_BITS` per command, oldest first), and the start of its last command.

    Ints, not tuples of strings: a fold counts hundreds of thousands of them, and hashing and
    comparing one int is a fraction of a tuple's cost.
    """
    first = max(new, n - 1)
    last = islice(ids, first, None)
    prev = islice(ids, first - 1, None)
    if n == 2:
        grams = [a << _ID_BITS | b for a, b in zip(prev, last, strict=False)]
    else:
        before = islice(ids, first - 2, None)
        grams = [
            (a << _ID_BITS | b) << _ID_BITS | c for a, b, c in zip(before, prev, last, strict=False)
        ]
    return grams, starts[first - new :]


def _session_spans(sessions: list[str], starts: list[int]):
    """``((session, count), first start, last start)`` of each named session in the rows.

    The rows run in start order, so a dict built in order keeps the last start and one built
    backwards keeps the first.
    """
    counts = Counter(filter(None, sessions))
    if not counts:
        return []
    first = dict(zip(reversed(sessions), reversed(starts), strict=False))
    last = dict(zip(sessions, starts, strict=False))
    return [((sid, n), first[sid], last[sid]) for sid, n in counts.items()]


def _streams(cols: Columns) -> list[tuple[str, Columns]]:
    """Each stream's rows, in row order (one stream, a whole import, is the common case)."""
    streams = cols.streams
    if len(set(streams)) == 1:
        return [(streams[0], cols)]
    return [(sid, cols.take(r)) for sid, r in positions_by_value(streams).items()]


def _tail_of(value: bytes) -> tuple[tuple[int, int, str], list[str]]:
    """The ``(day, start, id)`` order of a session's newest record, and its last commands
    (one or two, oldest first), as its ``session_ends`` entry holds them."""
    day, ns, rid, n = _TAIL.unpack_from(value)
    end = _TAIL.size + n
    newest = value[_TAIL.size : end].decode("utf-8", "surrogatepass")
    before = value[end:].decode("utf-8", "surrogatepass")
    return (day, ns, rid.hex()), ([before, newest] if before else [newest])


def _tail_value(order: tuple[int, int, str], last: Sequence[str]) -> bytes:
    """A session's ``session_ends`` entry: the order of its newest record, the newest
    command (``last[-1]``) and the one before it (``last[-2]``, when there is one)."""
    newest = last[-1].encode("utf-8", "surrogatepass")
    before = last[-2].encode("utf-8", "surrogatepass") if len(last) > 1 else b""
    return _tail_bytes(order, newest, before)


def _tail_bytes(order: tuple[int, int, str], newest: bytes, before: bytes) -> bytes:
    """:func:`_tail_value` from the two commands' bytes."""
    day, ns, rid = order
    return _TAIL.pack(day, ns, bytes.fromhex(rid or "00" * 8), len(newest)) + newest + before


_first = itemgetter(0)


def put_all(txn: lmdb.Transaction, db, writes: list[tuple[bytes, bytes]]) -> None:
    """Write many pairs in one call (a loop in C), a few one by one (no cursor to set up)."""
    if len(writes) > 8:
        # In key order: each write lands next to the last one in the B-tree (a fold's keys
        # are scattered). The sort is stable, so of two writes to one key the last still wins.
        txn.cursor(db=db).putmulti(sorted(writes, key=_first))
    else:
        for key, value in writes:
            txn.put(key, value, True, True, False, db)  # positional: see _follow


def _fold(cols: Columns):
    """Per-command stats, sessions and day counts of a batch, counted over its columns."""
    marks = list(zip(cols.starts, cols.cwds, strict=False))
    if not all(map(le, marks, islice(marks, 1, None))):
        cols = cols.take(sorted(range(len(marks)), key=marks.__getitem__))
    # From here rows run in (start, cwd) order: the last value a dict keeps is the newest.
    cmds, starts = cols.commands, cols.starts
    counts = Counter(cmds)
    ok = Counter(compress(cmds, [e == 0 for e in cols.exits]))
    failed = Counter(compress(cmds, [e is not None and e != 0 for e in cols.exits]))
    first = dict(zip(reversed(cmds), reversed(starts), strict=False))
    last = dict(zip(cmds, zip(starts, cols.cwds, strict=False), strict=False))
    keys = {c: command_key(c) for c in counts}
    by_cmd = {
        keys[c]: (c, n, ok.get(c, 0), failed.get(c, 0), first[c], *last[c])
        for c, n in counts.items()
    }
    sessions = {
        sid: (first_ns, last_ns, n)
        for (sid, n), first_ns, last_ns in _session_spans(cols.sessions, starts)
    }
    days = {day_name(d): n for d, n in Counter(cols.days).items()}
    return keys, by_cmd, sessions, days


#: One thread at a time opens an index's tables (see :class:`Index`).
_OPENING = threading.Lock()


class Index:
    """The index environment's tables and the operations the store performs on them."""

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        # Inside a transaction of our own: without one, py-lmdb's open_db begins a write
        # transaction while holding the GIL, and two threads opening the index at once
        # (the shell's suggestion thread and its recorder, after another process swapped
        # the files) deadlocked, each holding what the other waited for. begin() waits for
        # LMDB's writer lock without the GIL.
        with _OPENING, env.begin(write=True) as txn:
            self.db = {name: env.open_db(name, txn=txn) for name in ALL_TABLES}
        #: session key -> (its session_ends entry, what that entry implies): see _follow_one
        self._ends: dict[bytes, tuple] = {}

    # --- writing (inside a write transaction owned by the caller) -----------------------
    def add_records(self, txn: lmdb.Transaction, records: Sequence[Record]) -> None:
        """Fold newly stored records (with their ids) into the derived tables."""
        self.add_columns(txn, Columns.from_records(records))

    def add_columns(self, txn: lmdb.Transaction, cols: Columns) -> None:
        """Fold newly stored records, given as columns, into the derived tables."""
        if not cols:
            return
        if len(cols) == 1:  # the shell's prompt path: one command, no counting machinery
            command, start, cwd, status = (
                cols.commands[0],
                cols.starts[0],
                cols.cwds[0],
                cols.exits[0],
            )
            keys = {command: command_key(command)}
            ok, failed = int(status == 0), int(status is not None and status != 0)
            by_cmd = {keys[command]: (command, 1, ok, failed, start, start, cwd)}
            sid = cols.sessions[0]
            sessions = {sid: (start, start, 1)} if sid else {}
            days = {day_name(cols.days[0]): 1}
        else:
            keys, by_cmd, sessions, days = _fold(cols)
        self._merge(txn, by_cmd, sessions, days)
        self._add_successors(txn, cols, keys)

    def _follow_one(self, txn: lmdb.Transaction, cols: Columns, keys: dict[str, bytes]) -> None:
        """:meth:`_add_successors` for one record (the prompt path).

        What a session's entry implies (its newest command's pair head, its last two
        commands' context head) is remembered with the entry's bytes, so the shell's next
        command finds it without decoding or hashing them again; any other entry (another
        process wrote, a reindex ran) misses and is read the long way.
        """
        tdb = self.db[b"session_ends"]
        command, start = cols.commands[0], cols.starts[0]
        order = (cols.days[0], start, cols.ids[0])
        skey = cols.streams[0].encode("utf-8", "surrogatepass")[:KEY_LIMIT]
        old = txn.get(skey, None, tdb)
        ckey = keys[command]
        prev_key = prev_bytes = b""  # the session's newest command before this one
        if old is not None:
            known = self._ends.get(skey)
            if known is not None and known[0] == old:
                _, newest, pair_head, context_head, prev_key = known
            else:
                newest, last = _tail_of(old)
                prev_key = command_key(last[-1])
                pair_head = _pair_head(last[-1], prev_key)
                context_head = (
                    _context_head(command_key(last[0]), prev_key) if len(last) > 1 else b""
                )
            if order <= newest:
                return  # older than what this session already holds: see module doc
            half, whole = _half(command, ckey)
            self._follow(txn, b"successors", pair_head + half, start, whole)
            if context_head:
                self._follow(txn, b"successors2", context_head + half, start, whole)
            n = _TAIL.unpack_from(old)[3]
            prev_bytes = old[_TAIL.size : _TAIL.size + n]
        value = _tail_bytes(order, command.encode("utf-8", "surrogatepass"), prev_bytes)
        txn.put(skey, value, True, True, False, tdb)
        if len(self._ends) > 64:
            self._ends.clear()
        self._ends[skey] = (
            value,
            order,
            _pair_head(command, ckey),
            _context_head(prev_key, ckey) if prev_bytes else b"",
            ckey,
        )

    def _follow(
        self, txn: lmdb.Transaction, table: bytes, key: bytes, start: int, whole: bytes
    ) -> None:
        """One more run of the successor at ``key``, at ``start``: :meth:`_count_follows`
        for one record, without its batch bookkeeping (this is the prompt's path)."""
        db = self.db[table]
        old = txn.get(key, None, db)  # positional: a third cheaper than keywords in py-lmdb
        n, last_ns = 1, start
        if old is not None:
            n0, l0 = _SUCC.unpack_from(old)
            n, last_ns = n + n0, max(start, l0)
        txn.put(key, _SUCC.pack(n, last_ns) + whole, True, True, False, db)

    def _add_successors(self, txn: lmdb.Transaction, cols: Columns, keys: dict[str, bytes]) -> None:
        if len(cols) == 1:
            self._follow_one(txn, cols, keys)
            return
        tdb = self.db[b"session_ends"]
        # (context..., next command), packed by _grams -> how often, and its newest start;
        # pairs, then triples
        counts: tuple[Counter, Counter] = (Counter(), Counter())
        newest: tuple[dict, dict] = ({}, {})
        number: dict[str, int] = {}  # command -> its number in this fold
        for sid, part in _streams(cols):
            orders = list(zip(part.days, part.starts, part.ids, strict=True))
            if len(orders) > 1 and not all(map(le, orders, islice(orders, 1, None))):
                part = part.take(sorted(range(len(orders)), key=orders.__getitem__))
                orders.sort()
            skey = sid.encode("utf-8", "surrogatepass")[:KEY_LIMIT]
            old = txn.get(skey, db=tdb)
            cmds, starts = part.commands, part.starts
            lead: list[str] = []  # the session's last commands before this batch
            if old is not None:
                last, lead = _tail_of(old)
                # older than what this session already holds: no pair (see module doc)
                skip = bisect_right(orders, last)
                cmds, starts, orders = cmds[skip:], starts[skip:], orders[skip:]
                if not cmds:
                    continue
            seq = [*lead, *cmds]
            ids = [number.setdefault(c, len(number)) for c in seq]
            in_order = all(map(le, starts, islice(starts, 1, None)))
            for n, found, newest_all in zip((2, 3), counts, newest, strict=True):
                grams, ends = _grams(ids, starts, len(lead), n)
                found.update(grams)
                if in_order:  # the last start a dict keeps is the newest
                    seen = dict(zip(grams, ends, strict=True))
                else:
                    seen = {}
                    for gram, ns in zip(grams, ends, strict=True):
                        if ns > seen.get(gram, ns - 1):
                            seen[gram] = ns
                if newest_all:  # several streams: keep the newest of each
                    for gram, ns in seen.items():
                        if ns < newest_all.get(gram, ns):
                            seen[gram] = newest_all[gram]
                newest_all.update(seen)
            txn.put(skey, _tail_value(orders[-1], seq[-2:]), db=tdb)
        names = list(number)  # number -> command
        # a session's tail may be older than the batch: its commands have no key yet
        ckeys = [keys[c] if c in keys else command_key(c) for c in names]
        self._count_follows(txn, b"successors", counts[0], newest[0], names, ckeys)
        self._count_follows(txn, b"successors2", counts[1], newest[1], names, ckeys)

    def _count_follows(
        self,
        txn: lmdb.Transaction,
        table: bytes,
        follows: dict[int, int],
        newest: dict[int, int],
        names: list[str],
        ckeys: list[bytes],
    ) -> None:
        """Add ``follows`` (packed (context..., next command) -> how often; when last in
        ``newest``) to ``table``: ``successors`` for pairs, ``successors2`` for triples.
        ``names`` and ``ckeys`` are the fold's commands and their index keys, by number."""
        db = self.db[table]
        grams = list(follows)
        contexts = {g >> _ID_BITS for g in grams}
        if table == b"successors":  # the context is one command
            heads = {c: _pair_head(names[c], ckeys[c]) for c in contexts}
        else:  # two
            heads = {c: _context_head(ckeys[c >> _ID_BITS], ckeys[c & _ID_MASK]) for c in contexts}
        nexts = [g & _ID_MASK for g in grams]
        halves = [ckeys[i] for i in nexts]
        long_cmds = {}  # position -> its next command's bytes, where its half of the key is cut
        for i in [i for i, half in enumerate(halves) if len(half) > PAIR_LIMIT]:
            halves[i], long_cmds[i] = _half(names[nexts[i]], halves[i])
        dbkeys = [heads[g >> _ID_BITS] + h for g, h in zip(grams, halves, strict=True)]
        get, pack = txn.get, _SUCC.pack
        olds = [get(k, None, db) for k in dbkeys]
        counts = [follows[g] for g in grams]
        lasts = [newest[g] for g in grams]
        for i in [i for i, old in enumerate(olds) if old is not None]:
            n0, l0 = _SUCC.unpack_from(olds[i])
            counts[i] += n0
            lasts[i] = max(lasts[i], l0)
        writes = [(k, pack(n, t)) for k, n, t in zip(dbkeys, counts, lasts, strict=True)]
        for i, whole in long_cmds.items():
            writes[i] = (writes[i][0], writes[i][1] + whole)
        put_all(txn, db, writes)

    def _merge(self, txn, by_cmd, sessions, days) -> None:
        cdb, sdb, ddb = self.db[b"commands"], self.db[b"sessions"], self.db[b"days"]
        writes: list[tuple[bytes, bytes]] = []
        for key, (command, n, ok, failed, first, last, cwd) in by_cmd.items():
            old = txn.get(key, None, cdb)
            if old is not None:
                n0, ok0, failed0, first0, last0, cwd0, _ = _stats_of(old)
                n, ok, failed, first = n + n0, ok + ok0, failed + failed0, min(first, first0)
                # ties broken by cwd so that any insertion order gives the same index
                if (last0, cwd0) > (last, cwd):
                    last, cwd = last0, cwd0
            raw_cwd = cwd.encode("utf-8", "surrogatepass")
            value = _STATS.pack(n, ok, failed, first, last, len(raw_cwd)) + raw_cwd
            if len(key) > KEY_LIMIT:  # a cut key: the whole command goes in the value
                value += command.encode("utf-8", "surrogatepass")
            writes.append((key, value))
        put_all(txn, cdb, writes)
        for sid, (first, last, n) in sessions.items():
            k = sid.encode("utf-8", "surrogatepass")[:KEY_LIMIT]
            old = txn.get(k, None, sdb)
            if old is not None:
                f0, l0, n0 = _SESSION.unpack(old)
                first, last, n = min(first, f0), max(last, l0), n + n0
            txn.put(k, _SESSION.pack(first, last, n), True, True, False, sdb)
        for day, n in days.items():
            k = day.encode()
            old = txn.get(k, None, ddb)
            total = n + (_COUNT.unpack(old)[0] if old is not None else 0)
            txn.put(k, _COUNT.pack(total), True, True, False, ddb)

    def remove_commands(self, txn: lmdb.Transaction, commands: Iterable[str]) -> None:
        """Drop the stats of commands whose every record was removed."""
        for cmd in commands:
            txn.delete(command_key(cmd), db=self.db[b"commands"])

    def outdated(self, txn: lmdb.Transaction) -> bool:
        """Whether an older Delta wrote this index (it still has a table of an earlier
        format, so newer tables lack its history until ``reindex``)."""
        return any(txn.get(name) is not None for name in OLD_TABLES)

    def clear_derived(self, txn: lmdb.Transaction) -> None:
        for name in DERIVED_TABLES:
            txn.drop(self.db[name], delete=False)
        for name in OLD_TABLES:
            if txn.get(name) is not None:  # the main database lists the named ones
                txn.drop(self.env.open_db(name, txn=txn), delete=True)

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
        return self._follows(txn, b"successors", successor_prefix(previous), prefix)

    def successors2(
        self, txn: lmdb.Transaction, before: str, previous: str, prefix: str = ""
    ) -> Iterator[tuple[str, int, int]]:
        """As :meth:`successors`, for the commands run right after ``before`` then ``previous``."""
        return self._follows(txn, b"successors2", context_prefix(before, previous), prefix)

    def _follows(
        self, txn: lmdb.Transaction, table: bytes, head: bytes, prefix: str
    ) -> Iterator[tuple[str, int, int]]:
        start = head + prefix.encode("utf-8", "surrogatepass")[:PAIR_LIMIT]
        cur = txn.cursor(db=self.db[table])
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
