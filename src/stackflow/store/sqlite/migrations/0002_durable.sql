-- 0002: durable executions: leases, incremental snapshots, requests, activity tasks, workflows.
-- JSON columns hold compact JSON text; snapshots.data keeps the snapshot header.

ALTER TABLE executions ADD COLUMN owner TEXT;
ALTER TABLE executions ADD COLUMN lease_expires REAL;
ALTER TABLE executions ADD COLUMN version INTEGER;

CREATE INDEX executions_claim ON executions (status, owner, lease_expires);

CREATE TABLE snapshot_frames (
    execution_id TEXT NOT NULL,
    frame_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (execution_id, frame_id)
) WITHOUT ROWID;

CREATE TABLE requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    token TEXT,
    payload TEXT,
    created REAL NOT NULL
);

CREATE INDEX requests_execution ON requests (execution_id, id);

CREATE TABLE activity_tasks (
    token TEXT PRIMARY KEY,
    activity TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    input TEXT,
    created REAL NOT NULL,
    worker TEXT,
    claimed_at REAL
);

CREATE INDEX activity_tasks_waiting ON activity_tasks (activity, worker, created);
CREATE INDEX activity_tasks_execution ON activity_tasks (execution_id);

CREATE TABLE workflows (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
