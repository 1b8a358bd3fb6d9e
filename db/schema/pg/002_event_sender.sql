-- db/schema/pg/002_event_sender.sql: mirrors SQLite's migration 4 (on the
-- store branch at the time of writing): a message's event names its sender
-- and message id, so readers (the hub's delivered receipts) need not parse
-- its data; NULL in other events and in the events stored before.
ALTER TABLE events ADD COLUMN sender TEXT;
ALTER TABLE events ADD COLUMN message_id BIGINT;
