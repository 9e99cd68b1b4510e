-- An imported row's payload is stored as `text`, no longer `json`. The importer has already
-- parsed every line with serde_json (a JSON line's payload is the line as the file had it; a
-- CSV or Parquet row's is written by serde_json), so Postgres' own check of the same bytes was
-- redundant, and it cost a million-row import about 3 of its 14 core-seconds of database CPU
-- (`json_lex`, measured with perf). `json` is stored as text, so this changes no stored byte
-- and rewrites nothing. Query inside it with `payload::json` (or `::jsonb`).
alter table source_vote alter column payload type text;
