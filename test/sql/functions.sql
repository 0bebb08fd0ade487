--
-- functions: inngest.create_function / delete_function and what they store
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
CREATE FUNCTION app.noop(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT event $$;

-- A minimal definition: an id and one event trigger; retries default to 4,
-- the name to the id.
SELECT inngest.create_function(
    '{"id": "noop", "triggers": [{"event": "app/noop"}]}', 'app.noop');
SELECT id, name, handler, retries, owner = current_user::regrole AS mine,
       search_path
FROM inngest.functions;
SELECT function_id, position, event, expression, condition
FROM inngest.triggers ORDER BY function_id, position;

-- Upsert by id: everything is replaced, including the triggers.  "if" is
-- compiled to jsonpath once, here.
SELECT inngest.create_function('{
    "id": "noop", "name": "No-op", "retries": 0,
    "triggers": [{"event": "a"},
                 {"event": "b", "if": "event.data.n > 3 && event.data.plan == ''pro''"}]
  }', 'app.noop');
SELECT id, name, retries FROM inngest.functions;
SELECT function_id, position, event, expression, condition
FROM inngest.triggers ORDER BY function_id, position;

-- Shorthand: a top-level "event" (with an optional "if").
SELECT inngest.create_function(
    '{"id": "short", "event": "app/short", "if": "event.data.ok"}', 'app.noop');
SELECT function_id, event, condition FROM inngest.triggers
WHERE function_id = 'short';

-- The handler is named without its argument list and checked: schema
-- qualification follows the caller's search_path.
SET search_path = app, public;
SELECT inngest.create_function('{"id": "unqualified", "event": "x"}', 'noop');
RESET search_path;
SELECT id, handler FROM inngest.functions ORDER BY id;

-- The stored config is the caller's, verbatim.
SELECT config FROM inngest.functions WHERE id = 'short';

-- delete_function removes the definition and its triggers.
SELECT inngest.delete_function('unqualified');
SELECT id FROM inngest.functions ORDER BY id;
SELECT count(*) FROM inngest.triggers WHERE function_id = 'unqualified';

-- Deleting a function cancels its runs that have not started.
INSERT INTO inngest.events (name, data) VALUES ('app/short', '{"ok": true}');
SELECT function_id, status FROM inngest.runs;
SELECT inngest.delete_function('short');
SELECT function_id, status, ended_at IS NOT NULL AS ended FROM inngest.runs;
SELECT inngest.tick();

-- compile_expression shows what an expression becomes.
SELECT inngest.compile_expression('event.data.plan == ''pro''');
SELECT inngest.compile_expression('!(event.data.a > 1 || event.data.b <= 2.5) && event.data.c != null');
SELECT inngest.compile_expression('event.data.items[0].sku == "A-1" && event.data["odd key"] == -1');
SELECT inngest.compile_expression('event.data.flag');
SELECT inngest.compile_expression('event.data.n * 2 + 1 >= event.data.m % 3');
SELECT inngest.compile_expression('$.data ? (@.x == 1)');

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
