//! A campaign's progress (votes per day, votes per model pair) and its contributor leaderboard
//! (votes per opted-in volunteer, by pseudonym). Both count the campaign's votes that are not
//! voided, counted or not: a volunteer's effort counts even when a battle revealed a name.
//!
//! Both scan the campaign's votes (the default arena's are all of them: seconds at arena
//! scale), so each process keeps the last answer per campaign: reused while no vote or void
//! was recorded since and it is under a minute old, and in any case for ten seconds (a busy
//! arena recomputes at most every ten seconds). A contributor's change of name drops it here.

use super::{by_slug, parse_slug};
use crate::Arena;
use crate::error::ArenaResult;
use arena_domain::campaign::{Contributor, ContributorBoard, DayVotes, PairVotes, Progress};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How many contributors the board lists.
const BOARD_SIZE: i64 = 100;
const FRESH: Duration = Duration::from_secs(10);
const CURRENT: Duration = Duration::from_secs(60);

#[derive(Clone)]
enum Board {
    Progress(Progress),
    Contributors(ContributorBoard),
}
/// (this process, campaign slug, contributors rather than progress).
type Key = (uuid::Uuid, String, bool);
/// When a board was computed, at which mark ([`MARK`]), and the board.
type Entry = (Instant, i64, Board);
/// The last board of each key.
static BOARDS: LazyLock<Mutex<HashMap<Key, Entry>>> = LazyLock::new(Default::default);

/// The newest vote or void event (both number from the votes' sequence).
const MARK: &str = "select greatest((select coalesce(max(id), 0) from vote),
                                    (select coalesce(max(change_id), 0) from vote_void))";

impl Arena {
    /// A board from this process's cache, or `None` (see the module docs).
    async fn cached_board(&self, key: &Key) -> ArenaResult<(i64, Option<Board>)> {
        let mark: i64 = sqlx::query_scalar(MARK).fetch_one(&self.pool).await?;
        let hit = BOARDS
            .lock()
            .expect("boards")
            .get(key)
            .and_then(|(at, seen, b)| {
                let age = at.elapsed();
                (age < FRESH || (*seen == mark && age < CURRENT)).then(|| b.clone())
            });
        Ok((mark, hit))
    }

    fn keep_board(&self, key: Key, mark: i64, board: Board) {
        let mut boards = BOARDS.lock().expect("boards");
        boards.retain(|_, (at, ..)| at.elapsed() < CURRENT);
        boards.insert(key, (Instant::now(), mark, board));
    }

    /// Drops this process's boards of a campaign (a contributor changed their name).
    pub(crate) fn forget_boards(&self, slug: &str) {
        BOARDS
            .lock()
            .expect("boards")
            .retain(|(instance, s, _), _| !(*instance == self.instance && s == slug));
    }

    /// Votes per day (UTC; days without votes included, from the first vote to the last) and
    /// per pair of models (display names), most voted first.
    pub async fn campaign_progress(&self, slug: &str) -> ArenaResult<Progress> {
        let slug = parse_slug(slug)?;
        let key = (self.instance, slug.clone(), false);
        let (mark, hit) = self.cached_board(&key).await?;
        if let Some(Board::Progress(p)) = hit {
            return Ok(p);
        }
        let progress = self.compute_progress(&slug).await?;
        self.keep_board(key, mark, Board::Progress(progress.clone()));
        Ok(progress)
    }

    /// The volunteers who opted in, by their votes in the campaign (ties share a rank), and
    /// how many volunteers and votes there are in all.
    pub async fn campaign_contributors(&self, slug: &str) -> ArenaResult<ContributorBoard> {
        let slug = parse_slug(slug)?;
        let key = (self.instance, slug.clone(), true);
        let (mark, hit) = self.cached_board(&key).await?;
        if let Some(Board::Contributors(b)) = hit {
            return Ok(b);
        }
        let board = self.compute_contributors(&slug).await?;
        self.keep_board(key, mark, Board::Contributors(board.clone()));
        Ok(board)
    }

    async fn compute_progress(&self, slug: &str) -> ArenaResult<Progress> {
        let campaign = by_slug(&self.pool, slug).await?;
        let days: Vec<(chrono::NaiveDate, i64)> = sqlx::query_as(
            "with per_day as (
                 select (v.created_at at time zone 'utc')::date as day, count(*) as votes
                 from vote v join battle b on b.id = v.battle_id
                 where b.campaign_id = $1 and not v.voided
                 group by 1)
             select d::date, coalesce(p.votes, 0)::bigint
             from generate_series((select min(day) from per_day), (select max(day) from per_day),
                                  interval '1 day') d
             left join per_day p on p.day = d::date
             order by 1",
        )
        .bind(campaign.id)
        .fetch_all(&self.pool)
        .await?;
        let pairs: Vec<(String, String, i64)> = sqlx::query_as(
            "select ma.display_name, mb.display_name, count(*)::bigint
             from vote v join battle b on b.id = v.battle_id
             join model ma on ma.id = least(b.model_a_id, b.model_b_id)
             join model mb on mb.id = greatest(b.model_a_id, b.model_b_id)
             where b.campaign_id = $1 and not v.voided
             group by 1, 2 order by 3 desc, 1, 2",
        )
        .bind(campaign.id)
        .fetch_all(&self.pool)
        .await?;
        let votes = days.iter().map(|(_, n)| n).sum();
        Ok(Progress {
            days: days
                .into_iter()
                .map(|(day, votes)| DayVotes {
                    day: day.to_string(),
                    votes,
                })
                .collect(),
            pairs: pairs
                .into_iter()
                .map(|(model_a, model_b, votes)| PairVotes {
                    model_a,
                    model_b,
                    votes,
                })
                .collect(),
            votes,
        })
    }

    async fn compute_contributors(&self, slug: &str) -> ArenaResult<ContributorBoard> {
        let campaign = by_slug(&self.pool, slug).await?;
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "select rank() over (order by count(v.id) desc)::bigint, c.alias, count(v.id)::bigint
             from campaign_contributor c
             join vote v on v.voter_id = c.voter_id and not v.voided
             join battle b on b.id = v.battle_id and b.campaign_id = c.campaign_id
             where c.campaign_id = $1
             group by c.voter_id, c.alias
             order by 1, 2 limit $2",
        )
        .bind(campaign.id)
        .bind(BOARD_SIZE)
        .fetch_all(&self.pool)
        .await?;
        let (volunteers, votes): (i64, i64) = sqlx::query_as(
            "select count(distinct v.voter_id)::bigint, count(*)::bigint
             from vote v join battle b on b.id = v.battle_id
             where b.campaign_id = $1 and not v.voided",
        )
        .bind(campaign.id)
        .fetch_one(&self.pool)
        .await?;
        Ok(ContributorBoard {
            contributors: rows
                .into_iter()
                .map(|(rank, alias, votes)| Contributor { rank, alias, votes })
                .collect(),
            volunteers,
            votes,
        })
    }
}
