-- examples/order.sql: the inngest_pg demo story.
--
-- An online shop processes each order in three durable steps:
--
--   1. charge-card         insert a payment (must happen exactly once)
--   2. reserve-inventory   reserve one unit of the ordered SKU
--   3. notify-warehouse    call a flaky warehouse "API" that fails twice
--                          before it succeeds
--
-- The handler is plain PL/pgSQL.  Each inngest.step_run() runs its query
-- once, in its own subtransaction committed together with the step's
-- checkpoint, and the handler is replayed from the memoized results.  When
-- notify-warehouse fails, only that step is retried (after 15s, then 30s,
-- plus up to 10% jitter): the card is not charged again.
--
-- Run it with psql in a database whose server has inngest_pg in
-- shared_preload_libraries (scripts/demo.sh does all of this), or drive it
-- by hand with "SELECT inngest.tick();".

\set ON_ERROR_STOP on

CREATE EXTENSION IF NOT EXISTS inngest_pg;

DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;

CREATE TABLE shop.payments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    text NOT NULL,
    amount      numeric(10, 2) NOT NULL,
    charged_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shop.inventory (
    sku         text PRIMARY KEY,
    in_stock    int NOT NULL,
    reserved    int NOT NULL DEFAULT 0
);
INSERT INTO shop.inventory (sku, in_stock) VALUES ('BOOK-1', 10), ('MUG-2', 5);

CREATE TABLE shop.warehouse_notifications (
    order_id    text NOT NULL,
    attempt     bigint NOT NULL,       -- which call to the warehouse succeeded
    notified_at timestamptz NOT NULL DEFAULT now()
);

/*
 * How many times the warehouse has been called.  A sequence, not a table:
 * a failed step's subtransaction is rolled back, so a counter row updated by
 * the failing call would be rolled back with it, while nextval() is never
 * undone.  (SELECT last_value FROM shop.flaky_calls reads it.)
 */
CREATE SEQUENCE shop.flaky_calls;

-- The flaky warehouse API: the first two calls fail, the third succeeds.
CREATE FUNCTION shop.notify_warehouse(p_order_id text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    call bigint := nextval('shop.flaky_calls');
BEGIN
    IF call <= 2 THEN
        RAISE EXCEPTION 'warehouse API unavailable (call %)', call
            USING HINT = 'a transient error: inngest_pg retries the step';
    END IF;
    INSERT INTO shop.warehouse_notifications (order_id, attempt)
    VALUES (p_order_id, call);
    RETURN jsonb_build_object('notified', true, 'call', call);
END $$;

/*
 * The durable function.  Code outside the steps is replayed on every
 * invocation, so it only reads the event and the steps' results; anything
 * with an effect (or reading the clock, random(), changing tables) belongs
 * inside a step.
 */
CREATE FUNCTION shop.process_order(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    payment     jsonb;
    reservation jsonb;
    warehouse   jsonb;
BEGIN
    payment := inngest.step_run('charge-card',
        'INSERT INTO shop.payments (order_id, amount) VALUES ($1, $2)
         RETURNING jsonb_build_object(''payment_id'', id, ''amount'', amount)',
        event #>> '{data,order_id}', (event #>> '{data,amount}')::numeric);

    reservation := inngest.step_run('reserve-inventory',
        'UPDATE shop.inventory SET reserved = reserved + 1
          WHERE sku = $1 AND reserved < in_stock
         RETURNING jsonb_build_object(''sku'', sku, ''reserved'', reserved)',
        event #>> '{data,sku}');
    IF reservation IS NULL THEN
        -- SQLSTATE IG001: not retriable, the run fails at once
        RAISE EXCEPTION 'out of stock: %', event #>> '{data,sku}'
            USING ERRCODE = 'IG001';
    END IF;

    warehouse := inngest.step_run('notify-warehouse',
        'SELECT shop.notify_warehouse($1)',
        event #>> '{data,order_id}');

    RETURN jsonb_build_object(
        'order_id',    event #>> '{data,order_id}',
        'payment_id',  payment -> 'payment_id',
        'reserved',    reservation,
        'warehouse',   warehouse);
END $$;

SELECT inngest.create_function('{
    "id": "process-order",
    "name": "Process order",
    "triggers": [{"event": "order.placed"}],
    "retries": 4
  }', 'shop.process_order');

-- The order arrives: inserting the event starts a run.
INSERT INTO inngest.events (name, data)
VALUES ('order.placed', '{"order_id": "A-1001", "amount": 42.50, "sku": "BOOK-1"}');
