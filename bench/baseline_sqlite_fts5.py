#!/usr/bin/env python3
"""Baseline for the import benchmark: load the same JSON Lines into SQLite with a
FTS5 full-text index, deduplicating by id and canonical URL, in 5,000-row transactions —
roughly what a user would do without Vigil (no brand matching, no sentiment, no audit).

    python3 bench/baseline_sqlite_fts5.py /tmp/posts-1m.jsonl /tmp/baseline.db
"""
import json
import os
import sqlite3
import sys
import time
from urllib.parse import urlsplit, urlunsplit, parse_qsl, urlencode


def canonical(url):
    if not url:
        return None
    parts = urlsplit(url)
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not k.startswith("utm_")))
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, query, ""))


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    if os.path.exists(target):
        os.remove(target)
    db = sqlite3.connect(target)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE posts (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, url TEXT, canonical_url TEXT UNIQUE, author TEXT, published_at TEXT, text TEXT, lang TEXT)")
    db.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(text, content='posts', content_rowid='seq', tokenize='unicode61')")
    started = time.time()
    rows = 0
    batch = []

    def flush():
        with db:
            for post in batch:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO posts (id, url, canonical_url, author, published_at, text, lang) VALUES (?,?,?,?,?,?,?)",
                    (post["id"], post.get("url"), canonical(post.get("url")), post.get("author"), post["published_at"], post["text"], post.get("lang")))
                if cursor.rowcount:
                    db.execute("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, post["text"]))
        batch.clear()

    with open(source, encoding="utf-8") as lines:
        for line in lines:
            batch.append(json.loads(line))
            rows += 1
            if len(batch) >= 5000:
                flush()
    flush()
    elapsed = time.time() - started
    print(f"baseline sqlite+fts5: {rows} rows in {elapsed:.1f}s = {rows / elapsed:.0f} rows/s")


if __name__ == "__main__":
    main()
