//! The steady vote load of `make chaos`, and its audit. Volunteers start battles, read them to
//! the end and vote, through whichever server process answers (a refused or cut connection
//! retries on the other, the vote with the same Idempotency-Key); every acknowledged vote is
//! written to a ledger. At the end the ledger is checked against the database: every
//! acknowledged vote present with its choice, none twice, and the pair counts equal to the
//! counted votes.
//!
//! The volunteers behave like people, so that the rigging defences leave them alone and the
//! audit covers the counts: each question is new, each vote comes after a moment of reading,
//! and the choice follows a Bradley–Terry truth over the models (strengths 60 Elo apart, 20 %
//! ties; the harness reads the battle's models from the database, as a person
//! recognises nothing). The audit requires ≥ 90 % of acknowledged votes counted and no
//! volunteer quarantined.

use crate::client::{Error, Voter, http_client};
use clap::Args;
use rand::{Rng, SeedableRng};
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// The server processes' base URLs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub urls: Vec<String>,
    /// How long the load runs.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Volunteers voting at once.
    #[arg(long, default_value_t = 16)]
    pub voters: usize,
    /// Where the audit reads the votes from.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

#[derive(Default)]
struct Tally {
    battles: AtomicUsize,
    battles_failed: AtomicUsize,
    create_retries: AtomicUsize,
    stream_retries: AtomicUsize,
    vote_retries: AtomicUsize,
    acknowledged: AtomicUsize,
    refused: AtomicUsize,
    /// The answers of the votes refused for good.
    refusals: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn refuse(&self, status: u16, body: String) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.refusals
            .lock()
            .expect("refusals")
            .push(format!("{status} {body}"));
    }
}

/// One acknowledged vote.
struct Ack {
    battle: String,
    winner: &'static str,
}

pub async fn run(args: ChaosArgs) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let tally = Arc::new(Tally::default());
    let http = http_client();
    // Connects lazily: the database restarts under the load.
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&args.database_url)?;
    let tasks: Vec<_> = (0..args.voters)
        .map(|i| {
            let (http, urls, tally) = (http.clone(), args.urls.clone(), Arc::clone(&tally));
            let db = db.clone();
            tokio::spawn(async move { volunteer(i, http, urls, tally, db, deadline).await })
        })
        .collect();
    let mut acks = Vec::new();
    for task in tasks {
        acks.extend(task.await?);
    }
    audit(&args, &tally, &acks).await
}

/// A model's true strength (natural units): 60 Elo per step, the steps in the order of the
/// word that tells the chaos models apart (flood, garbage, hang, reset, slow).
fn strength(key: &str) -> f64 {
    let step = ["flood", "garbage", "hang", "reset", "slow"]
        .iter()
        .position(|w| key.contains(w))
        .unwrap_or(0) as f64;
    step * 60.0 / (400.0 / std::f64::consts::LN_10)
}

/// The honest choice between the battle's two models (20 % ties, else Bradley–Terry).
fn choose(model_a: &str, model_b: &str, rng: &mut impl Rng) -> &'static str {
    if rng.random::<f64>() < 0.2 {
        return "tie";
    }
    let p_a = 1.0 / (1.0 + (strength(model_b) - strength(model_a)).exp());
    if rng.random::<f64>() < p_a {
        "model_a"
    } else {
        "model_b"
    }
}

/// The battle's two model keys, asked of the database until it answers (it restarts).
async fn models_of(db: &sqlx::PgPool, battle: &str, deadline: Instant) -> Option<(String, String)> {
    let id: uuid::Uuid = battle.parse().ok()?;
    while Instant::now() < deadline + Duration::from_secs(30) {
        let row = sqlx::query_as::<_, (String, String)>(
            "select ma.key, mb.key from battle b join model ma on ma.id = b.model_a_id
             join model mb on mb.id = b.model_b_id where b.id = $1",
        )
        .bind(id)
        .fetch_optional(db)
        .await;
        match row {
            Ok(found) => return found,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// Votes until the deadline; the acknowledged votes.
async fn volunteer(
    index: usize,
    http: reqwest::Client,
    urls: Vec<String>,
    tally: Arc<Tally>,
    db: sqlx::PgPool,
    deadline: Instant,
) -> Vec<Ack> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(index as u64);
    let mut voter = Voter::new(http);
    let mut server = index % urls.len();
    let mut acks = Vec::new();
    let mut n = 0usize;
    while Instant::now() < deadline {
        n += 1;
        // Start a battle, on whichever process answers.
        let battle = loop {
            match voter
                .create_battle(
                    &urls[server],
                    &format!("Volunteer {index}, question {n}: what do foxes eat in winter {n}?"),
                )
                .await
            {
                Ok(battle) => break Some(battle),
                Err(_) if Instant::now() < deadline => {
                    tally.create_retries.fetch_add(1, Ordering::Relaxed);
                    server = (server + 1) % urls.len();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(_) => break None,
            }
        };
        let Some(battle) = battle else { break };
        tally.battles.fetch_add(1, Ordering::Relaxed);
        // Read it to the end; a cut stream resumes on the other process.
        let ok = loop {
            match voter.stream(&urls[server], &battle).await {
                Ok(streamed) => break streamed.ok,
                Err(_) => {
                    tally.stream_retries.fetch_add(1, Ordering::Relaxed);
                    server = (server + 1) % urls.len();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        if !ok {
            tally.battles_failed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // Read for a moment (a person is not a script), then vote as the truth says.
        let Some((model_a, model_b)) = models_of(&db, &battle, deadline).await else {
            continue;
        };
        let winner = choose(&model_a, &model_b, &mut rng);
        tokio::time::sleep(Duration::from_millis(rng.random_range(400..900))).await;
        // Vote, retrying with the same key until the arena answers for certain.
        let key = uuid::Uuid::new_v4().to_string();
        for attempt in 0.. {
            match voter.vote(&urls[server], &battle, winner, &key).await {
                Ok((200, _)) => {
                    tally.acknowledged.fetch_add(1, Ordering::Relaxed);
                    acks.push(Ack {
                        battle: battle.clone(),
                        winner,
                    });
                    break;
                }
                // A cut connection, a restarting database or process: ask again (a conflict, a
                // few times: the answers' final rows may still be committing).
                Ok((status @ 409, body)) if attempt >= 50 => {
                    tally.refuse(status, body);
                    break;
                }
                Ok((409 | 429 | 500.., _)) | Err(_) => {
                    tally.vote_retries.fetch_add(1, Ordering::Relaxed);
                    server = (server + 1) % urls.len();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok((status, body)) => {
                    tally.refuse(status, body);
                    break;
                }
            }
        }
    }
    acks
}

async fn audit(args: &ChaosArgs, tally: &Tally, acks: &[Ack]) -> Result<(), Error> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.database_url)
        .await?;
    let battles: Vec<uuid::Uuid> = acks
        .iter()
        .map(|a| a.battle.parse())
        .collect::<Result<_, _>>()?;
    let rows = sqlx::query("select battle_id, winner from vote where battle_id = any($1)")
        .bind(&battles)
        .fetch_all(&pool)
        .await?;
    let mut found = std::collections::HashMap::<uuid::Uuid, Vec<String>>::new();
    for row in rows {
        found
            .entry(row.get("battle_id"))
            .or_default()
            .push(row.get("winner"));
    }
    let (mut lost, mut wrong, mut duplicated) = (0, 0, 0);
    for (ack, id) in acks.iter().zip(&battles) {
        match found.get(id).map(Vec::as_slice) {
            None | Some([]) => lost += 1,
            Some([winner]) if winner == ack.winner => {}
            Some([_]) => wrong += 1,
            Some(_) => duplicated += 1,
        }
    }
    let twice: i64 = sqlx::query_scalar(
        "select count(*) from (select turn_id from vote group by turn_id having count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await?;
    let stored: i64 = sqlx::query_scalar("select count(*) from vote")
        .fetch_one(&pool)
        .await?;
    // The counts, pair by pair and outcome by outcome, against the counted votes.
    let mismatched: i64 = sqlx::query_scalar(
        "with v as (
             select b.model_a_id a, b.model_b_id b, coalesce(b.language, '') l,
                    count(*) filter (where v.winner = 'model_a') wa,
                    count(*) filter (where v.winner = 'model_b') wb,
                    count(*) filter (where v.winner = 'tie') t,
                    count(*) filter (where v.winner = 'both_bad') bb
             from vote v join battle b on b.id = v.battle_id where v.counted and not v.voided
             group by 1, 2, 3),
         c as (
             select model_a_id a, model_b_id b, language l, sum(wins_a) wa, sum(wins_b) wb,
                    sum(ties) t, sum(both_bad) bb
             from pair_count group by 1, 2, 3)
         select count(*) from v full join c using (a, b, l)
         where coalesce(v.wa, 0) <> coalesce(c.wa, 0) or coalesce(v.wb, 0) <> coalesce(c.wb, 0)
            or coalesce(v.t, 0) <> coalesce(c.t, 0) or coalesce(v.bb, 0) <> coalesce(c.bb, 0)",
    )
    .fetch_one(&pool)
    .await?;
    // What became of the acknowledged votes, and whether the defences held anyone.
    let (counted, capped, voided): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where counted and not voided), count(*) filter (where capped),
                count(*) filter (where voided)
         from vote where battle_id = any($1)",
    )
    .bind(&battles)
    .fetch_one(&pool)
    .await?;
    let quarantined: i64 = sqlx::query_scalar(
        "select count(*) from voter_quarantine where state in ('quarantined', 'confirmed')",
    )
    .fetch_one(&pool)
    .await?;
    // Why, for the log of a failed run (the detector's own words).
    let reasons: Vec<(String, String, String)> = sqlx::query_as(
        "select state, signal, detail from voter_quarantine order by flagged_at limit 5",
    )
    .fetch_all(&pool)
    .await?;
    let get = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    println!("\n### Votes under chaos\n");
    println!(
        "| battles | failed battles | acknowledged votes | found | lost | wrong choice | duplicated | stored, not acknowledged | pairs whose counts differ from the votes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {lost} | {wrong} | {} | {} | {mismatched} |",
        get(&tally.battles),
        get(&tally.battles_failed),
        acks.len(),
        acks.len() - lost,
        duplicated + twice as usize,
        stored as usize - (acks.len() - lost),
    );
    println!(
        "\nretries: {} battle creations, {} streams, {} votes; {} votes refused for good",
        get(&tally.create_retries),
        get(&tally.stream_retries),
        get(&tally.vote_retries),
        get(&tally.refused)
    );
    for refusal in tally.refusals.lock().expect("refusals").iter().take(5) {
        println!("refused: {refusal}");
    }
    let share = counted as f64 / acks.len().max(1) as f64;
    println!(
        "\nof the acknowledged votes: {counted} counted ({:.1} %), {capped} capped, {voided} voided; \
         {quarantined} volunteers quarantined",
        100.0 * share
    );
    for (state, signal, detail) in &reasons {
        println!("{state}: {signal}: {detail}");
    }
    if acks.is_empty() {
        return Err("no vote was acknowledged: the load did not run".into());
    }
    if lost + wrong + duplicated > 0 || twice > 0 || mismatched > 0 {
        return Err(format!(
            "the vote record is wrong: {lost} lost, {wrong} with another choice, {} duplicated, \
             {mismatched} pairs whose counts differ",
            duplicated + twice as usize
        )
        .into());
    }
    if share < 0.9 || quarantined > 0 {
        return Err(format!(
            "honest volunteers lost their say: {:.1} % of acknowledged votes counted (goal ≥ 90 %), \
             {quarantined} volunteers quarantined (goal 0)",
            100.0 * share
        )
        .into());
    }
    println!(
        "\nOK: every acknowledged vote is stored once, with its choice; the counts equal the votes; \
         {:.1} % of them count.",
        100.0 * share
    );
    Ok(())
}
