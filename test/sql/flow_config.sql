--
-- flow_config: the flow-control keys are validated at create_function
-- with Inngest's limits; bad input is a clear error and changes nothing
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
CREATE FUNCTION app.ok(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;

CREATE FUNCTION pg_temp.cf(config text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.create_function(config::jsonb, 'app.ok');
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- concurrency: a number, an object, or up to two of them
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": 5}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "key": "event.data.user_id"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": [{"limit": 10}, {"limit": 1, "key": "event.data.user_id"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 2, "key": "\"openai\"", "scope": "env"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 2, "key": "event.data.a", "mode": "run"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": 0}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": -3}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": 1.5}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": 1000000}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": "5"}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": []}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": [1, 2, 3]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"key": "event.data.a"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "key": "event.data.a ==="}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "key": ""}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "scope": "galaxy", "key": "event.data.a"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "scope": "env"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "mode": "batch"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": {"limit": 1, "color": "red"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": [{"limit": 1, "mode": "run"}, {"limit": 2, "mode": "run", "key": "event.data.a"}]}');

-- throttle: limit, period (1s to 7d), burst, key
SELECT pg_temp.cf('{"id": "f", "event": "e", "throttle": {"limit": 1, "period": "5s", "burst": 2, "key": "event.data.user_id"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "throttle": {"limit": 0, "period": "5s"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "throttle": {"limit": 1}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "throttle": {"limit": 1, "period": "8d"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "throttle": {"limit": 1, "period": "soon"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "throttle": {"limit": 1, "period": "5s", "burst": -1}}');

-- rateLimit: limit, period (1s to 24h), key
SELECT pg_temp.cf('{"id": "f", "event": "e", "rateLimit": {"limit": 1, "period": "4h", "key": "event.data.user_id"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "rateLimit": {"limit": 1, "period": "25h"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "rateLimit": {"limit": 100000, "period": "1h"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "rateLimit": {"period": "1h"}}');

-- debounce: period (1s to 7d), key, timeout
SELECT pg_temp.cf('{"id": "f", "event": "e", "debounce": {"period": "5m", "key": "event.data.account_id", "timeout": "10m"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "debounce": {"period": "0s"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "debounce": {"period": "5m", "timeout": "8d"}}');

-- batchEvents: maxSize (1 to 100), timeout (1s to 60s), key, if
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 100, "timeout": "5s", "key": "event.data.user_id", "if": "event.data.free"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 101, "timeout": "5s"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 10, "timeout": "2m"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 10}}');

-- priority, idempotency, singleton
SELECT pg_temp.cf('{"id": "f", "event": "e", "priority": {"run": "event.data.plan == ''enterprise'' ? 120 : 0"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "priority": {"run": "event.data.plan == ? 1 : 0"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "priority": {"run": "event.data.plan == ''x'' ? 1"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "priority": {"run": 5}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "priority": {"level": "1"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "idempotency": "event.data.order_id"}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "idempotency": "event.data.order_id +"}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "idempotency": 7}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "singleton": {"key": "event.data.user_id", "mode": "skip"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "singleton": {"key": "event.data.user_id", "mode": "cancel"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "singleton": {"key": "event.data.user_id"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "singleton": {"key": "event.data.user_id", "mode": "queue"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "singleton": {"mode": "skip"}}');

-- incompatible combinations
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 5, "timeout": "5s"}, "cancelOn": [{"event": "x"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 5, "timeout": "5s"}, "debounce": {"period": "5s"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 5, "timeout": "5s"}, "priority": {"run": "1"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 5, "timeout": "5s"}, "singleton": {"key": "event.data.a", "mode": "skip"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 5, "timeout": "5s"}, "idempotency": "event.data.a"}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "batchEvents": {"maxSize": 5, "timeout": "5s"}, "rateLimit": {"limit": 1, "period": "1m"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "debounce": {"period": "5s"}, "throttle": {"limit": 1, "period": "1m"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "debounce": {"period": "5s"}, "singleton": {"key": "event.data.a", "mode": "skip"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "singleton": {"key": "event.data.a", "mode": "skip"}, "concurrency": {"limit": 1, "mode": "run"}}');
-- compatible ones
SELECT pg_temp.cf('{"id": "f", "event": "e", "concurrency": 1, "priority": {"run": "event.data.p"}, "throttle": {"limit": 5, "period": "1m"}, "rateLimit": {"limit": 10, "period": "1m"}, "idempotency": "event.data.id", "cancelOn": [{"event": "x"}]}');

-- nothing of the failed attempts was stored: "f" is the last good one
SELECT id, config ? 'concurrency' AS has_concurrency, config ? 'cancelOn' AS has_cancel_on
FROM inngest.functions;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
