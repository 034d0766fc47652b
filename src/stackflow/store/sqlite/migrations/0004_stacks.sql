-- 0004: stacks (CloudFormation-language): records, resources, events, change sets, the intent log
-- of stack operations, exports and imports. JSON columns hold compact JSON text.

CREATE TABLE stacks (
    stack_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    template TEXT NOT NULL,
    template_file TEXT,
    parameters TEXT NOT NULL,
    no_echo TEXT NOT NULL,
    outputs TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL,
    operation_id TEXT,
    lock_owner TEXT,
    lock_expires REAL,
    deleted INTEGER NOT NULL DEFAULT 0
);

-- A name belongs to at most one live stack; deleted stacks keep theirs.
CREATE UNIQUE INDEX stacks_live_name ON stacks (name) WHERE deleted = 0;

CREATE TABLE stack_resources (
    stack_id TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    type TEXT NOT NULL,
    physical_id TEXT,
    status TEXT NOT NULL,
    status_reason TEXT,
    properties TEXT NOT NULL,
    attributes TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    deletion_policy TEXT,
    update_replace_policy TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (stack_id, logical_id)
);

CREATE TABLE stack_events (
    stack_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    logical_id TEXT NOT NULL,
    physical_id TEXT,
    resource_type TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    operation_id TEXT,
    PRIMARY KEY (stack_id, seq)
) WITHOUT ROWID;

CREATE TABLE change_sets (
    change_set_id TEXT PRIMARY KEY,
    stack_name TEXT NOT NULL,
    stack_version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    template TEXT NOT NULL,
    template_file TEXT,
    parameters TEXT NOT NULL,
    changes TEXT NOT NULL,
    status TEXT NOT NULL
);

CREATE INDEX change_sets_stack ON change_sets (stack_name, created_at);

CREATE TABLE stack_intents (
    operation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    logical_id TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    physical_id_hint TEXT NOT NULL,
    request_token TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (operation_id, seq)
) WITHOUT ROWID;

CREATE TABLE stack_exports (
    name TEXT PRIMARY KEY,
    stack_id TEXT NOT NULL,
    value TEXT NOT NULL
);

CREATE INDEX stack_exports_stack ON stack_exports (stack_id);

CREATE TABLE stack_imports (
    stack_id TEXT NOT NULL,
    export_name TEXT NOT NULL,
    PRIMARY KEY (stack_id, export_name)
) WITHOUT ROWID;

CREATE INDEX stack_imports_export ON stack_imports (export_name);
