//! The admins' side of campaigns: create and edit (with the audit row in the same transaction;
//! an edit made meanwhile by someone else is refused, never overwritten).

use super::{COLUMNS, CampaignRow, by_slug};
use crate::admin::{Admin, audit, field};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::campaign::{Campaign, CampaignInput};
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn time(field: &'static str, raw: &Option<String>) -> ArenaResult<Option<DateTime<Utc>>> {
    match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                ArenaError::invalid(
                    "invalid_field",
                    format!("{field}: {s:?} is not a time such as 2026-12-01T09:00:00Z"),
                )
            }),
    }
}

impl Admin {
    /// Every campaign (the default arena first).
    pub async fn campaigns(&self) -> ArenaResult<Vec<Campaign>> {
        self.arena.campaigns().await
    }

    /// Creates the campaign `input.slug` (`existing`: `None`) or edits `existing` (its slug
    /// may change). Returns it as saved.
    pub async fn save_campaign(
        &self,
        existing: Option<&str>,
        input: &CampaignInput,
    ) -> ArenaResult<Campaign> {
        input.check().map_err(field)?;
        let starts = time("starts_at", &input.starts_at)?;
        let ends = time("ends_at", &input.ends_at)?;
        if let (Some(s), Some(e)) = (starts, ends)
            && s >= e
        {
            return Err(ArenaError::invalid(
                "invalid_field",
                "ends_at: a campaign ends after it starts",
            ));
        }
        let mut tx = self.arena.pool.begin().await?;
        let before = match existing {
            None => None,
            Some(slug) => Some(by_slug(&mut *tx, slug).await?),
        };
        if let Some(b) = &before {
            if input.version.is_some_and(|v| v != b.version) {
                return Err(ArenaError::conflict(
                    "stale_version",
                    "someone changed this campaign since you opened it; reload and try again",
                ));
            }
            if b.is_default && (starts.is_some() || ends.is_some()) {
                return Err(ArenaError::invalid(
                    "invalid_field",
                    "ends_at: the default arena never ends (and is always open)",
                ));
            }
        }
        let mut models = Vec::with_capacity(input.models.len());
        for key in &input.models {
            let id: Option<Uuid> = sqlx::query_scalar("select id from model where key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            models.push(id.ok_or_else(|| {
                ArenaError::invalid(
                    "invalid_field",
                    format!("models: no model has the key {key:?}"),
                )
            })?);
        }
        let questions = serde_json::to_value(&input.questions).unwrap_or_default();
        let rubric = input
            .rubric
            .as_ref()
            .map(|r| serde_json::to_value(r).unwrap_or_default());
        let result = match &before {
            None => sqlx::query_scalar(
                "insert into campaign (id, slug, name, description, starts_at, ends_at, languages,
                                       pairing, sign_in_required, questions, rubric)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
            )
            .bind(Uuid::now_v7()),
            Some(b) => sqlx::query_scalar(
                "update campaign set slug = $2, name = $3, description = $4, starts_at = $5,
                        ends_at = $6, languages = $7, pairing = $8, sign_in_required = $9,
                        questions = $10, rubric = $11, version = version + 1, updated_at = now()
                 where id = $1 returning id",
            )
            .bind(b.id),
        }
        .bind(&input.slug)
        .bind(input.name.trim())
        .bind(&input.description)
        .bind(starts)
        .bind(ends)
        .bind(&input.languages)
        .bind(input.pairing.as_str())
        .bind(input.sign_in_required)
        .bind(&questions)
        .bind(&rubric)
        .fetch_one(&mut *tx)
        .await;
        let id: Uuid = result.map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ArenaError::conflict(
                "slug_taken",
                format!("another campaign has the slug {:?}", input.slug),
            ),
            e => e.into(),
        })?;
        sqlx::query("delete from campaign_model where campaign_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into campaign_model (campaign_id, model_id) select $1, unnest($2::uuid[])",
        )
        .bind(id)
        .bind(&models)
        .execute(&mut *tx)
        .await?;
        let saved: CampaignRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from campaign c where c.id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let after = saved.view();
        audit(
            &mut tx,
            &self.actor,
            if before.is_some() {
                "campaign.update"
            } else {
                "campaign.create"
            },
            &input.slug,
            before.map(|b| serde_json::to_value(b.view()).unwrap_or_default()),
            Some(serde_json::to_value(&after).unwrap_or_default()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(campaign = %after.slug, "campaign saved");
        Ok(after)
    }
}
