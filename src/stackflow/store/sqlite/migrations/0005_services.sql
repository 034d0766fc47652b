-- 0005: services (Local::Service): desired state and controller lease per service, the replicas
-- their controller observed, and the live controllers (stackflow server processes).
-- JSON columns hold compact JSON text.

CREATE TABLE services (
    name TEXT PRIMARY KEY,
    stack_name TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    replicas INTEGER NOT NULL,
    base_dir TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    previous_spec TEXT,
    previous_revision INTEGER,
    rollout TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    restart_requested_at REAL,
    owner TEXT,
    lease_expires REAL,
    load_balancer TEXT,
    version INTEGER NOT NULL
);

CREATE INDEX services_stack ON services (stack_name);

CREATE TABLE service_replicas (
    service TEXT NOT NULL,
    replica_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    pid INTEGER,
    start_time REAL,
    pgid INTEGER,
    port INTEGER,
    restarts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_exit_code INTEGER,
    last_exit_at REAL,
    next_start_at REAL,
    probe_output TEXT,
    log_path TEXT,
    started_at REAL,
    ready_since REAL,
    message TEXT,
    PRIMARY KEY (service, replica_id)
) WITHOUT ROWID;

CREATE TABLE service_controllers (
    owner TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
