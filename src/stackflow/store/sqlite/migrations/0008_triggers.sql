-- 0008: HTTP triggers (Stackflow::HttpTrigger): the workflow POST /hooks/NAME starts and how
-- callers authenticate (secret: the HMAC key, or the SHA-256 of a token).

CREATE TABLE triggers (
    name TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    auth_type TEXT NOT NULL,
    secret TEXT,
    header TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    stack_name TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE INDEX triggers_stack ON triggers (stack_name);
