-- 0001: executions, their history events and their latest snapshots.
-- JSON columns hold compact JSON text (json.dumps with separators=(",", ":")).

CREATE TABLE executions (
    execution_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    workflow TEXT NOT NULL,
    definition TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    cause TEXT,
    start_time REAL NOT NULL,
    stop_time REAL,
    parent_id TEXT,
    UNIQUE (workflow, name)
);

CREATE INDEX executions_status_start ON executions (status, start_time);
CREATE INDEX executions_start ON executions (start_time);
CREATE INDEX executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE events (
    execution_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    type TEXT NOT NULL,
    timestamp REAL NOT NULL,
    previous_event_id INTEGER NOT NULL DEFAULT 0,
    details TEXT NOT NULL,
    PRIMARY KEY (execution_id, id)
) WITHOUT ROWID;

CREATE TABLE snapshots (
    execution_id TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
