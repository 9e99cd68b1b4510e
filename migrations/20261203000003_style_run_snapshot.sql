-- A style-controlled run records the database snapshot it read the votes in, as rating runs do
-- (`rating_run.snapshot`): a vote whose transaction was still open then took an id below the
-- run's mark while invisible to it, so an equal mark alone does not prove the run current. A
-- stored run is reused only if no transaction in progress at its snapshot has since committed a
-- counted vote or a void event. Runs recorded before this have no snapshot and are reused as
-- before.
alter table style_run add column snapshot text;
