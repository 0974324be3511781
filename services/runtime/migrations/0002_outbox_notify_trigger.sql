-- Wake the outbox relay when events are written: one notification per inserting statement,
-- delivered at commit and only if the transaction commits (PostgreSQL folds identical
-- notifications of one transaction into one). A trigger instead of a NOTIFY statement after
-- each insert saves one round trip per event on every handler's path.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('credstream_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
