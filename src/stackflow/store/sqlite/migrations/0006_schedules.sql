-- 0006: schedules (Stackflow::Schedule): the spec (compact JSON text) and the scheduler's
-- watermark (the last fire time handled, epoch seconds), moved only by compare-and-set.

CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    stack_name TEXT NOT NULL,
    logical_id TEXT NOT NULL,
    last_fire_time REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE INDEX schedules_stack ON schedules (stack_name);
