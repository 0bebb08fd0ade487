--
-- waits: step_wait_for_event returns the first matching event committed
-- after the wait was registered, or NULL at the timeout
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-10-01 12:00:00+00';

-- Wait up to 1 day for the user's payment, matched on data.user_id.
CREATE FUNCTION app.checkout(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  paid jsonb;
BEGIN
  paid := inngest.step_wait_for_event('wait-payment', 'payment.received', '1 day',
                                      match => 'data.user_id');
  IF paid IS NULL THEN
    RETURN jsonb_build_object('outcome', 'abandoned');
  END IF;
  RETURN jsonb_build_object('outcome', 'paid', 'amount', paid #> '{data,amount}',
                            'event_name', paid -> 'name');
END $$;
SELECT inngest.create_function('{"id": "checkout", "event": "cart.created"}', 'app.checkout');

-- a payment before the wait exists does not count
INSERT INTO inngest.events (name, data) VALUES ('payment.received', '{"user_id": 1, "amount": 5}');
INSERT INTO inngest.events (name, data) VALUES
  ('cart.created', '{"user_id": 1}'), ('cart.created', '{"user_id": 2}'),
  ('cart.created', '{"user_id": 3}');
SELECT inngest.tick();
SELECT id, status, wake_at FROM inngest.runs ORDER BY id;
SELECT run_id, step_id, kind, status FROM inngest.steps ORDER BY run_id;
SELECT run_id, kind, event, match_path, match_value, expires_at FROM inngest.waits ORDER BY run_id;

-- a payment of user 2 resolves only user 2's wait; another user's does nothing
INSERT INTO inngest.events (name, data) VALUES ('payment.received', '{"user_id": 2, "amount": 20}');
INSERT INTO inngest.events (name, data) VALUES ('payment.received', '{"user_id": 99, "amount": 1}');
SELECT id, status, wake_at FROM inngest.runs ORDER BY id;
SELECT inngest.tick();
SELECT id, status, output FROM inngest.runs ORDER BY id;
SELECT run_id, step_id, status, output -> 'data' AS data FROM inngest.steps ORDER BY run_id;

-- a second payment of user 2 finds no wait any more
INSERT INTO inngest.events (name, data) VALUES ('payment.received', '{"user_id": 2, "amount": 21}');
SELECT count(*) AS waits_left FROM inngest.waits;

-- user 1 pays after 23 hours: resolved; user 3 never pays: NULL at the timeout
SET inngest.fake_now = '2026-10-02 11:00:00+00';
INSERT INTO inngest.events (name, data) VALUES ('payment.received', '{"user_id": 1, "amount": 10}');
SELECT inngest.tick();
SET inngest.fake_now = '2026-10-02 11:59:59+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-10-02 12:00:00+00';
SELECT inngest.tick();
SELECT id, event #> '{data,user_id}' AS user_id, status, output FROM inngest.runs ORDER BY id;
SELECT run_id, step_id, status, output IS NULL AS timed_out FROM inngest.steps ORDER BY run_id;
SELECT count(*) AS waits_left FROM inngest.waits;

-- "if": an expression over event (the run's) and async (the incoming one);
-- one event resolves every wait it matches
TRUNCATE inngest.runs, inngest.steps;
CREATE FUNCTION app.big_order(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_wait_for_event('approval', 'order.approved', '1 hour',
    "if" => 'async.data.region == event.data.region && async.data.limit >= event.data.amount');
END $$;
SELECT inngest.create_function('{"id": "big-order", "event": "order.big"}', 'app.big_order');
INSERT INTO inngest.events (name, data) VALUES
  ('order.big', '{"region": "eu", "amount": 100}'),
  ('order.big', '{"region": "eu", "amount": 150}'),
  ('order.big', '{"region": "eu", "amount": 500}'),
  ('order.big', '{"region": "us", "amount": 100}');
SELECT inngest.tick();
INSERT INTO inngest.events (name, data) VALUES ('order.approved', '{"region": "eu", "limit": 200}');
SELECT inngest.tick();
SELECT event -> 'data' AS order_data, status, output -> 'data' AS approval
FROM inngest.runs WHERE function_id = 'big-order' ORDER BY id;

-- the wait's step id is memoized like any other; the handler continues
CREATE FUNCTION app.two_waits(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  a := inngest.step_wait_for_event('first', 'ping', '1 hour');
  b := inngest.step_wait_for_event('second', 'ping', '1 hour');
  RETURN jsonb_build_array(a #> '{data,n}', b #> '{data,n}');
END $$;
SELECT inngest.create_function('{"id": "two-waits", "event": "two.waits"}', 'app.two_waits');
SELECT inngest.send('two.waits') IS NOT NULL;
SELECT inngest.tick();
SELECT inngest.send('ping', '{"n": 1}') IS NOT NULL;
SELECT inngest.tick();
SELECT inngest.send('ping', '{"n": 2}') IS NOT NULL;
SELECT inngest.tick();
SELECT status, output FROM inngest.runs WHERE function_id = 'two-waits';

-- bad arguments fail the run
CREATE FUNCTION app.bad_wait(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  CASE event #>> '{data,how}'
    WHEN 'no-timeout' THEN PERFORM inngest.step_wait_for_event('w', 'x', NULL);
    WHEN 'negative' THEN PERFORM inngest.step_wait_for_event('w', 'x', '-1 hour');
    WHEN 'too-long' THEN PERFORM inngest.step_wait_for_event('w', 'x', '2 years');
    WHEN 'no-event' THEN PERFORM inngest.step_wait_for_event('w', '', '1 hour');
    WHEN 'bad-match' THEN PERFORM inngest.step_wait_for_event('w', 'x', '1 hour', match => 'data..id');
    WHEN 'match-expr' THEN PERFORM inngest.step_wait_for_event('w', 'x', '1 hour', match => 'data.id == 1');
    WHEN 'bad-if' THEN PERFORM inngest.step_wait_for_event('w', 'x', '1 hour', "if" => 'async.data.x ==');
  END CASE;
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "bad-wait", "event": "bad.wait"}', 'app.bad_wait');
INSERT INTO inngest.events (name, data)
SELECT 'bad.wait', jsonb_build_object('how', h)
FROM unnest(ARRAY['no-timeout', 'negative', 'too-long', 'no-event', 'bad-match', 'match-expr', 'bad-if']) h;
SELECT inngest.tick();
SELECT event #>> '{data,how}' AS how, status, error ->> 'message' AS message
FROM inngest.runs WHERE function_id = 'bad-wait' ORDER BY id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
