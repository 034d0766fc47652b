"""Local::SQLiteDatabase: migrations applied once, new ones on update, drift, delete."""

from __future__ import annotations

import sqlite3

from stackflow.providers import HandlerErrorCode, HandlerStatus
from stackflow.providers.sqlite_db import SQLiteDatabaseProvider, split_statements

M1 = {"Id": "001", "Sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT DEFAULT 'a;b');"}
M2 = {"Id": "002", "Sql": "INSERT INTO t (name) VALUES ('x'); INSERT INTO t (name) VALUES ('y')"}


def test_create_applies_migrations_once(tmp_path, make_request, context):
    provider = SQLiteDatabaseProvider()
    event = provider.create(make_request({"Path": "db/app.db", "Migrations": [M1]}), context)
    path = tmp_path / "db" / "app.db"
    assert event.status == HandlerStatus.SUCCESS, event.message
    assert event.physical_id == str(path)
    assert event.attributes == {"Path": str(path), "AppliedMigrations": ["001"]}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    props = {"Path": "db/app.db", "Migrations": [M1, M2]}
    updated = provider.update(
        make_request(props, physical_id=str(path), previous_properties={"Path": "db/app.db"}),
        context,
    )
    assert updated.attributes["AppliedMigrations"] == ["001", "002"]
    again = provider.update(make_request(props, physical_id=str(path)), context)
    assert again.status == HandlerStatus.SUCCESS
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    conn.close()


def test_changed_sql_of_applied_migration_is_an_error(tmp_path, make_request, context):
    provider = SQLiteDatabaseProvider()
    provider.create(make_request({"Path": "a.db", "Migrations": [M1]}), context)
    changed = {"Id": "001", "Sql": "CREATE TABLE other (x)"}
    event = provider.update(make_request({"Path": "a.db", "Migrations": [changed]}), context)
    assert event.status == HandlerStatus.FAILED
    assert "'001'" in event.message
    assert event.error_code == HandlerErrorCode.NotUpdatable


def test_failing_migration_leaves_no_trace(tmp_path, make_request, context):
    provider = SQLiteDatabaseProvider()
    bad = {"Id": "bad", "Sql": "CREATE TABLE ok1 (x); CREATE TABLE broken ("}
    event = provider.create(make_request({"Path": "a.db", "Migrations": [M1, bad]}), context)
    assert event.status == HandlerStatus.FAILED
    assert "'bad'" in event.message
    conn = sqlite3.connect(tmp_path / "a.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    ids = [r[0] for r in conn.execute("SELECT id FROM _stackflow_migrations")]
    conn.close()
    assert "ok1" not in tables and "t" in tables
    assert ids == ["001"]


def test_read_drift_and_delete(tmp_path, make_request, context):
    provider = SQLiteDatabaseProvider()
    props = {"Path": "a.db", "Migrations": [M1], "JournalMode": "WAL"}
    provider.create(make_request(props), context)
    path = tmp_path / "a.db"
    request = make_request(props, physical_id=str(path))
    read = provider.read(request, context)
    assert read is not None and read.properties == props
    assert read.attributes["AppliedMigrations"] == ["001"]
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _stackflow_migrations")
    conn.commit()
    conn.close()
    assert provider.read(request, context).properties["Migrations"] == []
    assert provider.requires_replacement("Path", "a.db", "b.db") is True
    assert provider.requires_replacement("Migrations", [], [M1]) is False
    assert provider.delete(request, context).status == HandlerStatus.SUCCESS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("a.db")]
    assert provider.read(request, context) is None
    assert provider.delete(request, context).status == HandlerStatus.SUCCESS


def test_split_statements_respects_strings_and_triggers():
    sql = (
        "CREATE TABLE a (x TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr AFTER INSERT ON a BEGIN UPDATE a SET x = 'y'; END;\n"
        "SELECT 1"
    )
    parts = split_statements(sql)
    assert len(parts) == 3
    assert parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
