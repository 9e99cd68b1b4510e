-- Each download of an export over HTTP (#23): the manifest of the bytes actually sent (row count
-- and SHA-256 computed while streaming), kept so that GET /api/v1/exports/{id}/manifest answers
-- without exporting again, whatever was committed since.
create table export_download (
    id uuid primary key,
    user_id uuid references app_user (id) on delete set null,
    status text not null default 'running' check (status in ('running', 'done', 'stopped')),
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    manifest jsonb
);
create index export_download_started on export_download (started_at);
