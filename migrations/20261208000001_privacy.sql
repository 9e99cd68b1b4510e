-- Erasure and retention (docs/privacy.md): a battle whose conversation was removed (its person
-- asked, or it is older than privacy.conversation_retention_days) keeps its rows and votes, and
-- says when its text went.
alter table battle add column redacted_at timestamptz;
create index battle_retention_idx on battle (updated_at) where redacted_at is null;
