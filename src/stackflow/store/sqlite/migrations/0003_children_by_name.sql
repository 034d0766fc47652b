-- 0003: page through the children of a large Map run in name order.
CREATE INDEX executions_parent_name ON executions (parent_id, name) WHERE parent_id IS NOT NULL;
