//! Leaderboard categories (coding, math, long prompts, multi-turn, decisive votes only): which
//! votes belong to each, as SQL over the vote `v`, its turn `t` and the turn's live answers `aa`
//! and `ab` (this module is the only place that decides), a campaign's votes, the counts of a category's view read
//! from the votes themselves, and each category's number of votes for the page's control.

use super::CountRow;
use crate::Arena;
use crate::error::ArenaResult;
use arena_domain::category::{Category, CategoryCount};

/// The condition a vote of `category` meets (`true` for none).
pub(crate) fn condition(category: Option<Category>) -> &'static str {
    match category {
        None => "true",
        Some(Category::Coding) => {
            "(strpos(t.prompt, '```') > 0 or strpos(coalesce(aa.content, ''), '```') > 0
              or strpos(coalesce(ab.content, ''), '```') > 0)"
        }
        // Arithmetic between numbers, TeX, or a mathematical word (whole words, any case).
        Some(Category::Math) => {
            "(t.prompt ~ '[0-9] *[-+*/^=×÷] *[0-9(]'
              or t.prompt ~ '\\\\(frac|sum|int|sqrt|cdot|pi)\\M'
              or t.prompt ~* '\\m(solve|equation|integral|derivative|probability|theorem|prove|calculate|algebra|geometry|matrix|polynomial|ekuazio|ebatzi|kalkulatu|ecuación|resolver|calcula|integral|derivada|probabilidad)\\M')"
        }
        // The tokens of the prompt the models saw (the conversation so far); a turn without a
        // count (an old or failed one) by its characters, about four per token.
        Some(Category::Long) => {
            "coalesce(greatest(aa.prompt_tokens, ab.prompt_tokens), length(t.prompt) / 4) > 500"
        }
        Some(Category::MultiTurn) => "t.turn_index > 0",
        Some(Category::NoTies) => "v.winner in ('model_a', 'model_b')",
    }
}

/// The condition "vote `v`'s battle `b` is in the campaign named by the parameter `param`"
/// (true when it is null).
pub(crate) fn in_campaign(param: &str) -> String {
    format!(
        "({param}::text is null
          or b.campaign_id = (select id from campaign where slug = {param}::text))"
    )
}

/// The joins every condition may use.
const JOINS: &str = "join battle_turn t on t.id = v.turn_id
     left join answer aa on aa.turn_id = t.id and aa.side = 'a' and not aa.discarded
     left join answer ab on ab.turn_id = t.id and ab.side = 'b' and not ab.discarded";

/// The language a vote is filtered by: the one the voter chose (on the battle) or the voted
/// prompt's, as detected.
pub(crate) fn language_column(detected: bool) -> &'static str {
    if detected {
        "coalesce(t.detected_language, '')"
    } else {
        "coalesce(b.language, '')"
    }
}

/// The pair counts of a view read from the votes (a category, or the detected language): the
/// counted votes not voided in the current transaction's snapshot, with the language (`$1`,
/// chosen or `detected`) and date (`$2`, `$3`) filters.
pub(crate) async fn counts<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    category: Option<Category>,
    detected: bool,
    language: &Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    campaign: Option<&str>,
) -> ArenaResult<Vec<CountRow>> {
    let sql = format!(
        "select b.model_a_id, b.model_b_id,
                count(*) filter (where v.winner = 'model_a') as wins_a,
                count(*) filter (where v.winner = 'model_b') as wins_b,
                count(*) filter (where v.winner = 'tie') as ties,
                count(*) filter (where v.winner = 'both_bad') as both_bad
         from vote v join battle b on b.id = v.battle_id
         {joins}
         where v.counted and not v.voided
           and ($1::text is null or {language} = $1)
           and ($2::date is null or (v.created_at at time zone 'utc')::date >= $2)
           and ($3::date is null or (v.created_at at time zone 'utc')::date <= $3)
           and {cond}
           and {in_campaign}
         group by b.model_a_id, b.model_b_id",
        cond = condition(category),
        language = language_column(detected),
        in_campaign = in_campaign("$4"),
        // A campaign's view alone reads no turn or answer.
        joins = if category.is_some() || detected {
            JOINS
        } else {
            ""
        },
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(language)
        .bind(from)
        .bind(to)
        .bind(campaign)
        .fetch_all(conn)
        .await?)
}

/// The joins of [`condition`] for a query over `vote v` (used by the reproduction too).
pub(crate) fn joins() -> &'static str {
    JOINS
}

impl Arena {
    /// Each category's counted votes (not voided), for the page's control: computed in one scan
    /// and stored per counted-set mark; while a newer mark's counts are younger than a minute
    /// old, the latest stored ones are shown (the scan reads every vote's turn and answers).
    pub async fn category_counts(&self) -> ArenaResult<Vec<CategoryCount>> {
        let mark: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&self.pool)
            .await?;
        let latest: Option<(i64, serde_json::Value, bool)> = sqlx::query_as(
            "select mark, counts, created_at > now() - interval '1 minute'
             from category_count order by mark desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if let Some((stored, counts, fresh)) = &latest
            && (*stored == mark || *fresh)
            && let Ok(counts) = serde_json::from_value(counts.clone())
        {
            return Ok(counts);
        }
        let columns: Vec<String> = Category::ALL
            .iter()
            .map(|c| format!("count(*) filter (where {})", condition(Some(*c))))
            .collect();
        let sql = format!(
            "select array[{}]::bigint[] from vote v {JOINS} where v.counted and not v.voided",
            columns.join(", ")
        );
        let mut tx = self.rating_pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let mark: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&mut *tx)
            .await?;
        let values: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let counts: Vec<CategoryCount> = Category::ALL
            .iter()
            .zip(values)
            .map(|(c, votes)| CategoryCount {
                category: *c,
                votes,
            })
            .collect();
        sqlx::query(
            "insert into category_count (mark, counts) values ($1, $2)
             on conflict (mark) do update set counts = excluded.counts, created_at = now()",
        )
        .bind(mark)
        .bind(serde_json::to_value(&counts).unwrap_or_default())
        .execute(&self.pool)
        .await?;
        Ok(counts)
    }
}
