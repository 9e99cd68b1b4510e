//! Reading the CLI's input files: pair counts as CSV and battles in the public
//! arena JSON-lines format. Every error names the file line.

use std::io::BufRead;

use arena_ratings::{Battle, Comparisons, Outcome, PairCounts};
use serde::Deserialize;

/// Bad input: reported with exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn at(line: u64, msg: impl std::fmt::Display) -> InputError {
    InputError(format!("line {line}: {msg}"))
}

const COUNT_COLUMNS: [&str; 6] = ["model_a", "model_b", "wins_a", "wins_b", "ties", "both_bad"];

/// Reads `model_a,model_b,wins_a,wins_b,ties,both_bad` (columns in any order,
/// extra columns ignored). A pair may appear several times and in both orders.
pub fn read_counts(reader: impl std::io::Read) -> Result<Comparisons, InputError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv.headers().map_err(|e| at(1, e))?.clone();
    let mut idx = [0usize; 6];
    let mut missing = Vec::new();
    for (k, col) in COUNT_COLUMNS.iter().enumerate() {
        match headers.iter().position(|h| h == *col) {
            Some(p) => idx[k] = p,
            None => missing.push(*col),
        }
    }
    if !missing.is_empty() {
        return Err(at(
            1,
            format!(
                "missing column(s) {}; expected header {}",
                missing.join(", "),
                COUNT_COLUMNS.join(",")
            ),
        ));
    }
    let mut comparisons = Comparisons::new();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at(line, format!("malformed CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |k: usize| record.get(idx[k]).unwrap_or("");
        let (a, b) = (field(0), field(1));
        if a.is_empty() || b.is_empty() {
            return Err(at(line, "empty model name"));
        }
        let mut counts = [0u64; 4];
        for (k, c) in counts.iter_mut().enumerate() {
            let raw = field(k + 2);
            *c = raw.parse::<u64>().map_err(|_| {
                at(
                    line,
                    format!(
                        "column {}: expected a non-negative integer count, got {raw:?}",
                        COUNT_COLUMNS[k + 2]
                    ),
                )
            })?;
        }
        comparisons
            .add(
                a,
                b,
                PairCounts::new(counts[0], counts[1], counts[2], counts[3]),
            )
            .map_err(|e| at(line, e))?;
    }
    Ok(comparisons)
}

#[derive(Deserialize)]
struct RawBattle {
    model_a: String,
    model_b: String,
    winner: String,
    #[serde(default)]
    tstamp: Option<f64>,
}

fn parse_winner(w: &str) -> Option<Outcome> {
    match w {
        "model_a" => Some(Outcome::WinA),
        "model_b" => Some(Outcome::WinB),
        "tie" => Some(Outcome::Tie),
        "tie (bothbad)" | "both_bad" => Some(Outcome::BothBad),
        _ => None,
    }
}

/// Reads battles, one JSON object per line with `model_a`, `model_b`,
/// `winner` (other fields ignored, blank lines skipped). When every battle
/// has a `tstamp`, they are put in chronological order (stable); otherwise
/// the file order is taken as chronological.
pub fn read_battles(reader: impl BufRead) -> Result<Vec<Battle>, InputError> {
    let mut battles = Vec::new();
    let mut stamps = Vec::new();
    for (k, line) in reader.lines().enumerate() {
        let n = k as u64 + 1;
        let line = line.map_err(|e| at(n, format!("unreadable: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let raw: RawBattle =
            serde_json::from_str(&line).map_err(|e| at(n, format!("malformed JSON: {e}")))?;
        let outcome = parse_winner(&raw.winner).ok_or_else(|| {
            at(
                n,
                format!(
                    "unknown winner {:?} (expected model_a, model_b, tie, tie (bothbad) or both_bad)",
                    raw.winner
                ),
            )
        })?;
        if raw.model_a.is_empty() || raw.model_b.is_empty() {
            return Err(at(n, "empty model name"));
        }
        if raw.model_a == raw.model_b {
            return Err(at(
                n,
                format!("model {:?} is paired with itself", raw.model_a),
            ));
        }
        stamps.push(raw.tstamp);
        battles.push(Battle {
            model_a: raw.model_a,
            model_b: raw.model_b,
            outcome,
        });
    }
    if !stamps.is_empty() && stamps.iter().all(Option::is_some) {
        let mut order: Vec<usize> = (0..battles.len()).collect();
        order.sort_by(|&a, &b| {
            stamps[a]
                .unwrap_or(0.0)
                .total_cmp(&stamps[b].unwrap_or(0.0))
        });
        let mut sorted: Vec<Option<Battle>> = battles.into_iter().map(Some).collect();
        battles = order.iter().filter_map(|&i| sorted[i].take()).collect();
    }
    Ok(battles)
}

/// Aggregates battles into counts.
pub fn battles_to_comparisons(battles: &[Battle]) -> Comparisons {
    let mut c = Comparisons::new();
    for b in battles {
        // self-pairs were rejected while reading
        let _ = c.add_outcome(&b.model_a, &b.model_b, b.outcome);
    }
    c
}
