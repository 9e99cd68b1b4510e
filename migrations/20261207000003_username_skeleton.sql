-- Look-alike usernames (#23.4): each account's username skeleton (arena_text::skeleton: NFKC,
-- invisible characters removed, lower case, Unicode TR39 confusables folded, marks dropped).
-- A new username whose skeleton equals an existing one is refused with 409. Accounts made
-- before this column are filled in by the server at start (Rust computes the skeleton);
-- where two old accounts already collide, the later one keeps a null skeleton (and its name).
alter table app_user add column username_skeleton text;
create unique index app_user_username_skeleton_key on app_user (username_skeleton);
