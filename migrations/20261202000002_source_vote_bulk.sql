-- An imported row's payload is kept as the file had it (`json`: checked, stored as text), not
-- parsed into `jsonb`: nothing queries inside it, and parsing 1.5 GB of conversations into
-- jsonb was a third of a large import's time.
alter table source_vote alter column payload type json using payload::json;

-- An import writes up to millions of rows in one statement, and the per-row foreign-key checks
-- of source_vote (three queries per row) were half of the database's work. The import keeps
-- the references itself: it reads the model ids in its transaction, creates the new models
-- before their rows, locks the source row, and locks every model its rows name (`for key
-- share`) before it commits. These triggers keep the other half of a foreign key: a model or a
-- source that imported votes name cannot be deleted (or renumbered).
alter table source_vote
    drop constraint source_vote_source_id_fkey,
    drop constraint source_vote_model_a_id_fkey,
    drop constraint source_vote_model_b_id_fkey;

create function keep_source_vote_references() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and old.id = new.id then
        return new;
    end if;
    if (tg_table_name = 'model'
            and exists (select 1 from source_vote
                        where model_a_id = old.id or model_b_id = old.id))
       or (tg_table_name = 'data_source'
            and exists (select 1 from source_vote where source_id = old.id)) then
        raise exception '% % is named by imported votes (source_vote)', tg_table_name, old.id
            using errcode = 'foreign_key_violation';
    end if;
    return case when tg_op = 'DELETE' then old else new end;
end
$$;

create trigger model_named_by_source_votes before delete or update of id on model
    for each row execute function keep_source_vote_references();
create trigger source_named_by_source_votes before delete or update of id on data_source
    for each row execute function keep_source_vote_references();
