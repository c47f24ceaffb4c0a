#!/usr/bin/env python3
"""What an insider with write access to a SQLite evidence store, but not the log key, can do.

    tamper_store.py DB launder INDEX KEEP   delete entry INDEX, renumber the rest, delete every
                                            checkpoint larger than KEEP (0: all of them), and
                                            recompute the tree state (tree_nodes, log_state)
    tamper_store.py DB forge-approval      append an unsigned copy of the first approval entry
    tamper_store.py DB null-change INDEX    set change_id = NULL on entry INDEX
    tamper_store.py DB delete INDEX         delete entry INDEX, nothing else

Only SHA-256 is needed: RFC 6962 leaf = H(0x00 || bytes), node = H(0x01 || left || right).
"""
import hashlib
import json
import sqlite3
import sys


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def rebuild(db):
    """Recompute tree_nodes and log_state from the entries, as the appender would have."""
    rows = db.execute("SELECT envelope FROM log_entries ORDER BY idx").fetchall()
    frontier, nodes = [], []
    for index, (envelope,) in enumerate(rows):
        h, level = leaf(envelope), 0
        while (index >> level) & 1:
            h = node(frontier.pop(), h)
            level += 1
            nodes.append((level, index >> level, h))
        frontier.append(h)
    db.execute("DELETE FROM tree_nodes")
    db.executemany("INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
    db.execute("UPDATE log_state SET tree_size = ?, frontier = ? WHERE id = 1", (len(rows), b"".join(frontier)))


def main():
    path, action, *args = sys.argv[1:]
    db = sqlite3.connect(path)
    if action == "launder":
        index, keep = int(args[0]), int(args[1])
        db.execute("DELETE FROM log_entries WHERE idx = ?", (index,))
        size = db.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0] + 1
        for i in range(index + 1, size):
            db.execute("UPDATE log_entries SET idx = ? WHERE idx = ?", (i - 1, i))
        db.execute("DELETE FROM checkpoints WHERE tree_size > ?", (keep,))
        rebuild(db)
    elif action == "forge-approval":
        idx, envelope, change = db.execute(
            "SELECT idx, envelope, change_id FROM log_entries WHERE kind = 'approval' ORDER BY idx LIMIT 1"
        ).fetchone()
        doc = json.loads(envelope)
        forged = json.dumps({"payload": doc["payload"], "payloadType": doc["payloadType"], "signatures": []}).encode()
        size = db.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0]
        db.execute(
            "INSERT INTO log_entries (idx, leaf_hash, envelope, kind, change_id, recorded_at, recorded_by) "
            "VALUES (?, ?, ?, 'approval', ?, '2026-06-01T12:00:00Z', 'mallory')",
            (size, leaf(forged), forged, change),
        )
    elif action == "delete":
        db.execute("DELETE FROM log_entries WHERE idx = ?", (int(args[0]),))
    elif action == "null-change":
        db.execute("UPDATE log_entries SET change_id = NULL WHERE idx = ?", (int(args[0]),))
    else:
        sys.exit(f"unknown action {action}")
    db.commit()


if __name__ == "__main__":
    main()
