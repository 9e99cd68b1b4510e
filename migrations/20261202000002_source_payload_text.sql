-- An imported row's payload is kept as the file had it (`json`: checked, stored as text), not
-- parsed into `jsonb`: nothing queries inside it, and parsing 1.5 GB of conversations into
-- jsonb was a third of a large import's time.
alter table source_vote alter column payload type json using payload::json;
