-- 30_api_keys.sql - the demo Open311 API key: the key is the string `demo`, stored (like session
-- tokens) only as its SHA-256 hash.
INSERT INTO api_keys (key_hash, name) VALUES (sha256('demo'::bytea), 'demo');
