//! Campaigns (issue #11): what a battle in a campaign must respect (its dates, languages, pool,
//! pairing, sign-in and registration, rubric), the volunteers' registration answers and
//! contributor pseudonyms, and the campaign pages' reads. The admins' side is in [`admin`],
//! the progress and contributor boards in [`progress`].
//!
//! Every battle belongs to a campaign; the default arena (`arena`) is one that never ends.

mod admin;
mod progress;

use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use crate::voters::VoterId;
use arena_domain::campaign::{
    Campaign, CampaignPage, CampaignPairing, CampaignStatus, DEFAULT_SLUG, Question, Registration,
    Rubric,
};
use std::collections::HashSet;
use uuid::Uuid;

/// The columns of a [`CampaignRow`], over `campaign c`.
const COLUMNS: &str = "c.id, c.slug, c.name, c.description, c.starts_at, c.ends_at, c.languages,
     c.pairing, c.sign_in_required, c.questions, c.rubric, c.is_default, c.version,
     case when c.starts_at > now() then 'upcoming'
          when c.ends_at <= now() then 'closed' else 'open' end as status,
     array(select m.key from campaign_model cm join model m on m.id = cm.model_id
           where cm.campaign_id = c.id order by m.key) as models,
     array(select cm.model_id from campaign_model cm where cm.campaign_id = c.id) as pool";

#[derive(sqlx::FromRow)]
pub(crate) struct CampaignRow {
    pub(crate) id: Uuid,
    slug: String,
    name: String,
    description: String,
    starts_at: Option<chrono::DateTime<chrono::Utc>>,
    ends_at: Option<chrono::DateTime<chrono::Utc>>,
    languages: Vec<String>,
    pairing: String,
    sign_in_required: bool,
    questions: serde_json::Value,
    rubric: Option<serde_json::Value>,
    is_default: bool,
    version: i32,
    status: String,
    models: Vec<String>,
    pool: Vec<Uuid>,
}

fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl CampaignRow {
    /// What the campaign's draws depend on: its pool (`None`: every active model) and pairing.
    pub(crate) fn battle_rules_for_pairing(&self) -> (Option<HashSet<Uuid>>, CampaignPairing) {
        (
            (!self.pool.is_empty()).then(|| self.pool.iter().copied().collect()),
            CampaignPairing::parse(&self.pairing).unwrap_or_default(),
        )
    }

    pub(crate) fn questions(&self) -> Vec<Question> {
        serde_json::from_value(self.questions.clone()).unwrap_or_default()
    }

    pub(crate) fn rubric(&self) -> Option<Rubric> {
        self.rubric
            .clone()
            .and_then(|r| serde_json::from_value(r).ok())
    }

    fn status(&self) -> CampaignStatus {
        match self.status.as_str() {
            "upcoming" => CampaignStatus::Upcoming,
            "closed" => CampaignStatus::Closed,
            _ => CampaignStatus::Open,
        }
    }

    pub(crate) fn view(&self) -> Campaign {
        Campaign {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            starts_at: rfc3339(self.starts_at),
            ends_at: rfc3339(self.ends_at),
            languages: self.languages.clone(),
            models: self.models.clone(),
            pairing: CampaignPairing::parse(&self.pairing).unwrap_or_default(),
            sign_in_required: self.sign_in_required,
            questions: self.questions(),
            rubric: self.rubric(),
            is_default: self.is_default,
            status: self.status(),
            version: self.version,
        }
    }
}

/// What a new battle in a campaign must respect.
pub(crate) struct BattleRules {
    pub(crate) id: Uuid,
    /// The pool's model ids (`None`: every active model).
    pub(crate) pool: Option<HashSet<Uuid>>,
    pub(crate) pairing: CampaignPairing,
    /// The battle's language: the campaign's only language, or the voter's choice among them.
    pub(crate) language: Option<String>,
}

pub(crate) async fn by_slug<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    slug: &str,
) -> ArenaResult<CampaignRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from campaign c where c.slug = $1"
    )))
    .bind(slug)
    .fetch_optional(conn)
    .await?
    .ok_or(ArenaError::NotFound { what: "campaign" })
}

/// The default arena's campaign.
pub(crate) async fn default_campaign<'c>(
    conn: impl sqlx::PgExecutor<'c>,
) -> ArenaResult<CampaignRow> {
    by_slug(conn, DEFAULT_SLUG).await
}

/// A campaign slug as given in a request: checked, never trusted.
pub(crate) fn parse_slug(raw: &str) -> ArenaResult<String> {
    let slug = raw.trim();
    arena_domain::campaign::check_slug("campaign", slug)
        .map_err(|e| ArenaError::invalid("invalid_campaign", e.to_string()))?;
    Ok(slug.to_owned())
}

fn signed_in_sql() -> &'static str {
    "select user_id is not null from voter where id = $1"
}

impl Arena {
    /// Every campaign, the default arena first, then the newest first.
    pub async fn campaigns(&self) -> ArenaResult<Vec<Campaign>> {
        let rows: Vec<CampaignRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from campaign c order by c.is_default desc, c.created_at desc"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(CampaignRow::view).collect())
    }

    /// One campaign.
    pub async fn campaign(&self, slug: &str) -> ArenaResult<Campaign> {
        Ok(by_slug(&self.pool, &parse_slug(slug)?).await?.view())
    }

    /// The campaign's battle page for this volunteer (`None`: no voter yet).
    pub async fn campaign_page(
        &self,
        voter: Option<VoterId>,
        slug: &str,
    ) -> ArenaResult<CampaignPage> {
        let row = by_slug(&self.pool, &parse_slug(slug)?).await?;
        let (signed_in, registered, alias) = match voter {
            None => (false, false, None),
            Some(v) => {
                let signed_in: bool = sqlx::query_scalar(signed_in_sql())
                    .bind(v.0)
                    .fetch_optional(&self.pool)
                    .await?
                    .unwrap_or(false);
                let registered: bool = sqlx::query_scalar(
                    "select exists (select 1 from campaign_registration
                                    where campaign_id = $1 and voter_id = $2)",
                )
                .bind(row.id)
                .bind(v.0)
                .fetch_one(&self.pool)
                .await?;
                let alias: Option<String> = sqlx::query_scalar(
                    "select alias from campaign_contributor where campaign_id = $1 and voter_id = $2",
                )
                .bind(row.id)
                .bind(v.0)
                .fetch_optional(&self.pool)
                .await?;
                (signed_in, registered, alias)
            }
        };
        let campaign = row.view();
        Ok(CampaignPage {
            registered: registered || campaign.questions.is_empty(),
            campaign,
            signed_in,
            alias,
        })
    }

    /// Stores (or replaces) a volunteer's answers to the campaign's registration questions.
    pub async fn register(
        &self,
        voter: VoterId,
        slug: &str,
        answers: &Registration,
    ) -> ArenaResult<()> {
        let row = by_slug(&self.pool, &parse_slug(slug)?).await?;
        arena_domain::campaign::check_registration(&row.questions(), answers)
            .map_err(crate::admin::field)?;
        sqlx::query(
            "insert into campaign_registration (campaign_id, voter_id, answers)
             values ($1, $2, $3)
             on conflict (campaign_id, voter_id) do update set answers = excluded.answers",
        )
        .bind(row.id)
        .bind(voter.0)
        .bind(serde_json::to_value(answers).unwrap_or_default())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Opts in to the contributor leaderboard under a pseudonym (`Some`), or out (`None`).
    pub async fn set_contributor_alias(
        &self,
        voter: VoterId,
        slug: &str,
        alias: Option<&str>,
    ) -> ArenaResult<Option<String>> {
        let row = by_slug(&self.pool, &parse_slug(slug)?).await?;
        self.forget_boards(&row.slug);
        let Some(alias) = alias else {
            sqlx::query(
                "delete from campaign_contributor where campaign_id = $1 and voter_id = $2",
            )
            .bind(row.id)
            .bind(voter.0)
            .execute(&self.pool)
            .await?;
            return Ok(None);
        };
        let alias = arena_domain::campaign::check_alias(alias).map_err(crate::admin::field)?;
        let taken: bool = sqlx::query_scalar(
            "select exists (select 1 from campaign_contributor
                            where campaign_id = $1 and lower(alias) = lower($2) and voter_id <> $3)",
        )
        .bind(row.id)
        .bind(&alias)
        .bind(voter.0)
        .fetch_one(&self.pool)
        .await?;
        if taken {
            return Err(ArenaError::conflict(
                "alias_taken",
                "another volunteer of this campaign uses that name; choose another",
            ));
        }
        sqlx::query(
            "insert into campaign_contributor (campaign_id, voter_id, alias) values ($1, $2, $3)
             on conflict (campaign_id, voter_id) do update set alias = excluded.alias",
        )
        .bind(row.id)
        .bind(voter.0)
        .bind(&alias)
        .execute(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ArenaError::conflict(
                "alias_taken",
                "another volunteer of this campaign uses that name; choose another",
            ),
            e => e.into(),
        })?;
        self.forget_boards(&row.slug);
        Ok(Some(alias))
    }

    /// The rules a new battle in `slug` (absent: the default arena) must respect, checked for
    /// this voter now: open, signed in and registered if required, a language it accepts.
    pub(crate) async fn battle_rules(
        &self,
        voter: VoterId,
        slug: Option<&str>,
        language: Option<String>,
    ) -> ArenaResult<BattleRules> {
        let slug = match slug.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => parse_slug(s)?,
            None => DEFAULT_SLUG.to_owned(),
        };
        let row = by_slug(&self.pool, &slug).await?;
        match row.status() {
            CampaignStatus::Open => {}
            CampaignStatus::Upcoming => {
                return Err(ArenaError::conflict(
                    "campaign_not_open",
                    format!(
                        "{} opens at {}",
                        row.name,
                        rfc3339(row.starts_at).unwrap_or_default()
                    ),
                ));
            }
            CampaignStatus::Closed => {
                return Err(ArenaError::conflict(
                    "campaign_closed",
                    format!(
                        "{} closed at {}; its leaderboard stays",
                        row.name,
                        rfc3339(row.ends_at).unwrap_or_default()
                    ),
                ));
            }
        }
        if row.sign_in_required {
            let signed_in: bool = sqlx::query_scalar(signed_in_sql())
                .bind(voter.0)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(false);
            if !signed_in {
                return Err(ArenaError::Unauthorized {
                    code: "sign_in_required",
                    message: format!("{} asks volunteers to sign in first", row.name),
                });
            }
        }
        if !row.questions().is_empty() {
            let registered: bool = sqlx::query_scalar(
                "select exists (select 1 from campaign_registration
                                where campaign_id = $1 and voter_id = $2)",
            )
            .bind(row.id)
            .bind(voter.0)
            .fetch_one(&self.pool)
            .await?;
            if !registered {
                return Err(ArenaError::Forbidden {
                    code: "registration_required",
                    message: format!(
                        "answer {}'s registration questions first: \
                         PUT /api/v1/campaigns/{}/registration",
                        row.name, row.slug
                    ),
                });
            }
        }
        let language = match (row.languages.as_slice(), language) {
            ([], language) => language,
            ([only], None) => Some(only.clone()),
            (allowed, Some(l)) if allowed.contains(&l) => Some(l),
            (allowed, _) => {
                return Err(ArenaError::invalid(
                    "invalid_language",
                    format!("this campaign is in {}", allowed.join(", ")),
                ));
            }
        };
        let (pool, pairing) = row.battle_rules_for_pairing();
        Ok(BattleRules {
            id: row.id,
            pool,
            pairing,
            language,
        })
    }
}
