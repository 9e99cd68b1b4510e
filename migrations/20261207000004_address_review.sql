-- The address-burst signal reviews, it does not quarantine (#23.3): many votes from one
-- address (a school, a campus behind one NAT) put its voters in the admins' queue in state
-- 'review' with their votes still counted; quarantine needs per-voter evidence.
alter table voter_quarantine drop constraint voter_quarantine_state_check;
alter table voter_quarantine add constraint voter_quarantine_state_check
    check (state in ('review', 'quarantined', 'confirmed', 'cleared'));
drop index voter_quarantine_open_idx;
create index voter_quarantine_open_idx on voter_quarantine (flagged_at)
    where state in ('review', 'quarantined');
