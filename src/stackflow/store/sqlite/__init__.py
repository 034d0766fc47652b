"""SQLite backend of the store (WAL, one group-committing writer, thread-local readers)."""

from stackflow.store.sqlite.store import SQLiteStore, apply_migrations, load_migrations

__all__ = ["SQLiteStore", "apply_migrations", "load_migrations"]
