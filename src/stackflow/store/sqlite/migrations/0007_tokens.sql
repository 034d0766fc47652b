-- 0007: API tokens. Only the SHA-256 of each token is kept (token_hash), never the token.

CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL
);

CREATE UNIQUE INDEX api_tokens_valid_name ON api_tokens (name)
    WHERE name <> '' AND revoked_at IS NULL;
