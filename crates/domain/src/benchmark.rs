//! Static benchmark scores (Belebele, XStoryCloze, MMLU, …) imported as CSV by an admin and
//! shown beside the arena ratings: the file's format, parsed once here.
//!
//! ```text
//! model,belebele_eus,xstorycloze_eu
//! latxa-70b,71.2,65.0
//! llama-3-70b,63.5,
//! ```
//! The first column is a model key, each other column a benchmark; an empty cell is a missing
//! score. Fields may be quoted (`"…"`, `""` for a quote).

use serde::{Deserialize, Serialize};

/// One score of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkCell {
    pub model: String,
    pub benchmark: String,
    pub score: f64,
    /// 1-based line of the file.
    pub line: usize,
}

/// A bad file: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    out.push(field);
    Ok(out)
}

/// Parses the whole file (nothing is partially accepted: the first bad line is the error).
pub fn parse_csv(text: &str) -> Result<Vec<BenchmarkCell>, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (header_line, header) = lines.next().ok_or(CsvError {
        line: 1,
        message: "the file is empty (expected a header: model,benchmark,…)".into(),
    })?;
    let bad = |line: usize, message: String| CsvError { line, message };
    let header = fields(header).map_err(|m| bad(header_line, m))?;
    if header.len() < 2 || header[0].trim() != "model" {
        return Err(bad(
            header_line,
            "the header must be model,<benchmark>,<benchmark>,…".into(),
        ));
    }
    let benchmarks: Vec<String> = header[1..].iter().map(|b| b.trim().to_owned()).collect();
    for (i, b) in benchmarks.iter().enumerate() {
        if b.is_empty() || b.chars().count() > 80 {
            return Err(bad(
                header_line,
                format!("benchmark name {} must be 1 to 80 characters", i + 1),
            ));
        }
        if benchmarks[..i].contains(b) {
            return Err(bad(header_line, format!("benchmark {b:?} appears twice")));
        }
    }
    let mut cells = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (line, raw) in lines {
        let row = fields(raw).map_err(|m| bad(line, m))?;
        if row.len() != header.len() {
            return Err(bad(
                line,
                format!("{} fields, the header has {}", row.len(), header.len()),
            ));
        }
        let model = row[0].trim().to_owned();
        if model.is_empty() {
            return Err(bad(line, "the model key is empty".into()));
        }
        if !seen.insert(model.clone()) {
            return Err(bad(line, format!("model {model:?} appears twice")));
        }
        for (benchmark, value) in benchmarks.iter().zip(&row[1..]) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let score: f64 = value
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite())
                .ok_or_else(|| bad(line, format!("{benchmark}: {value:?} is not a number")))?;
            cells.push(BenchmarkCell {
                model: model.clone(),
                benchmark: benchmark.clone(),
                score,
                line,
            });
        }
    }
    Ok(cells)
}

/// One benchmark's agreement with the arena's ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BenchmarkCorrelation {
    pub benchmark: String,
    /// Models with both a score and an arena rating.
    pub models: usize,
    pub spearman: Option<f64>,
    pub spearman_lower: Option<f64>,
    pub spearman_upper: Option<f64>,
    pub kendall: Option<f64>,
    pub kendall_lower: Option<f64>,
    pub kendall_upper: Option<f64>,
}

/// A model's arena rating beside its benchmark scores (in the order of `benchmarks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BenchmarkRow {
    pub model: String,
    pub display_name: String,
    /// The rating the leaderboard shows (the posterior for a provisional model).
    pub rating: Option<f64>,
    pub scores: Vec<Option<f64>>,
}

/// `GET /api/v1/leaderboard/benchmarks`: the scores beside the ratings of one leaderboard view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BenchmarkReport {
    /// The rating run the arena ratings come from.
    pub run_id: i64,
    pub benchmarks: Vec<String>,
    pub rows: Vec<BenchmarkRow>,
    pub correlations: Vec<BenchmarkCorrelation>,
    /// Bootstrap rounds and seed of the intervals.
    pub rounds: usize,
    pub seed: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BenchmarkImport {
    pub scores: usize,
    pub models: usize,
    pub benchmarks: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_missing_cells_and_quotes() {
        let cells =
            parse_csv("model,belebele_eus,\"xstory, eu\"\r\nlatxa,71.2,65\n\n\"llama\",63.5,\n")
                .unwrap();
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[1].benchmark, "xstory, eu");
        assert_eq!(cells[2].model, "llama");
        assert_eq!(cells[2].line, 4);
    }

    #[test]
    fn bad_files_name_their_line() {
        let err = |t: &str| parse_csv(t).unwrap_err();
        assert_eq!(err("").line, 1);
        assert!(err("name,x\na,1").message.contains("header"));
        assert_eq!(err("model,x\na,1\nb,one").line, 3);
        assert!(err("model,x\na,1\nb,one").message.contains("not a number"));
        assert!(err("model,x\na,1,2").message.contains("3 fields"));
        assert!(err("model,x\na,1\na,2").message.contains("twice"));
        assert!(err("model,x,x\na,1,2").message.contains("twice"));
        assert!(err("model,x\na,NaN").message.contains("not a number"));
    }
}
