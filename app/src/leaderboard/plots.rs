//! The leaderboard's SVG, drawn by the app itself on the server: the interval plot and the two
//! heatmaps. Both are drawn at their natural size (never blown up: two models make a small
//! heatmap, not two page-wide cells) inside a box that scrolls sideways on a phone, and both adapt
//! to the number of models, from 2 to 200: labels sized to the longest name (long names cut, the
//! whole name in a tooltip), rows and cells that shrink as models are added, cell numbers only
//! where they fit.

use arena_domain::api::{LeaderboardEntry, LeaderboardView};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A name cut to `max` characters with an ellipsis in the middle, escaped: the start and the
/// end both stay, since model names differ at either (`SmolLM2-135M-Instruct (temperature 0.2)`
/// and `… (temperature 1.0)` are told apart by their ends, `Llama-3.1-8B` and `Llama-3.1-70B`
/// by their middles' ends).
fn short(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max {
        escape(name)
    } else {
        let keep = max.saturating_sub(1);
        let tail = keep / 2;
        let head = keep - tail;
        let cut: String = chars[..head]
            .iter()
            .chain(std::iter::once(&'…'))
            .chain(&chars[chars.len() - tail..])
            .collect();
        escape(&cut)
    }
}

/// Width in pixels of the longest of `names` (cut to `max` characters) at `font` px: an
/// average glyph is about 0.58 em in the page's sans-serif.
fn label_width(names: impl Iterator<Item = usize>, max: usize, font: f64) -> f64 {
    let longest = names.map(|n| n.min(max)).max().unwrap_or(0) as f64;
    (longest * font * 0.58 + 12.0).clamp(40.0, 320.0)
}

/// What the interval plot draws for an entry: its rating, the interval's ends, and whether it
/// is provisional.
type Drawn = (f64, f64, f64, bool);

/// What the interval plot draws for an entry: ranked models their fitted rating and 95%
/// confidence interval; provisional ones (with votes) their posterior and credible interval.
fn interval(e: &LeaderboardEntry) -> Option<Drawn> {
    if e.provisional {
        if e.votes == 0 {
            return None;
        }
        Some((
            e.posterior_rating?,
            e.credible_lower?,
            e.credible_upper?,
            true,
        ))
    } else {
        let r = e.rating?;
        Some((r, e.ci_lower.unwrap_or(r), e.ci_upper.unwrap_or(r), false))
    }
}

/// Round tick positions between `lo` and `hi`, about five of them.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    let step = [10.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1000.0]
        .into_iter()
        .find(|s| span / s <= 6.0)
        .unwrap_or(2000.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi {
        out.push(t);
        t += step;
    }
    out
}

/// A horizontal interval plot: one line per model with votes, its rating as a dot. Provisional
/// models are drawn dashed and hollow (their credible interval).
pub fn ci_plot(view: &LeaderboardView) -> String {
    let shown: Vec<(&LeaderboardEntry, Drawn)> = view
        .entries
        .iter()
        .filter_map(|e| interval(e).map(|i| (e, i)))
        .collect();
    if shown.is_empty() {
        // Nothing to draw (the page says why in its notice).
        return String::new();
    }
    let lo = shown.iter().map(|(_, i)| i.1).fold(f64::INFINITY, f64::min);
    let hi = shown
        .iter()
        .map(|(_, i)| i.2)
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if hi - lo < 20.0 {
        (lo - 10.0, hi + 10.0)
    } else {
        (lo, hi)
    };
    let dense = shown.len() > 60;
    let (row, font) = if dense { (14.0, 10.0) } else { (22.0, 12.0) };
    const NAME: usize = 36;
    let left = label_width(
        shown.iter().map(|(e, _)| e.display_name.chars().count()),
        NAME,
        font,
    ) + 6.0;
    let width = 420.0;
    let x = |v: f64| left + (v - lo) / (hi - lo) * width;
    let top = 8.0;
    let height = top + row * shown.len() as f64 + 24.0;
    let total = left + width + 16.0;
    let mut svg = format!(
        "<svg class=\"ci-plot\" width=\"{total}\" height=\"{height}\" viewBox=\"0 0 {total} {height}\" \
         role=\"img\" aria-label=\"Ratings with 95% intervals\" font-size=\"{font}\">"
    );
    let axis = height - 18.0;
    for t in ticks(lo, hi) {
        svg += &format!(
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{axis}\" stroke=\"#e3e3e8\"/>\
             <text x=\"{0:.1}\" y=\"{1}\" text-anchor=\"middle\" font-size=\"10\">{t:.0}</text>",
            x(t),
            height - 5.0
        );
    }
    for (i, (e, (r, a, b, provisional))) in shown.iter().enumerate() {
        let y = top + row * i as f64 + row / 2.0;
        let name = &e.display_name;
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            left - 8.0,
            y + font / 3.0,
            escape(name),
            short(name, NAME)
        );
        let (stroke, dash, fill) = if *provisional {
            ("#9aa0a6", " stroke-dasharray=\"4 3\"", "#fff")
        } else {
            ("#2f5bd3", "", "#1d1d1f")
        };
        svg += &format!(
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{stroke}\" stroke-width=\"2\"{dash}/>\
             <circle cx=\"{:.1}\" cy=\"{y}\" r=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\"><title>{r:.0} ({a:.0}–{b:.0}){}</title></circle>",
            x(*a),
            x(*b),
            x(*r),
            if dense { 3 } else { 4 },
            if *provisional { ", provisional" } else { "" }
        );
    }
    svg + "</svg>"
}

/// Cell size for `n` models, and whether the cell holds its number.
fn cell_size(n: usize) -> (f64, bool) {
    match n {
        0..=6 => (40.0, true),
        7..=12 => (32.0, true),
        13..=24 => (24.0, true),
        25..=60 => (14.0, false),
        _ => (9.0, false),
    }
}

/// A heatmap of win rates (`rates`) or battle counts between every pair of the models the
/// matrices cover (the first entries): one `<rect>` per cell, its value in a tooltip and, where
/// it fits, in the cell.
pub fn heatmap(view: &LeaderboardView, rates: bool) -> String {
    let n = view.battles.len().min(view.entries.len());
    if n == 0 {
        return String::new();
    }
    let (cell, numbers) = cell_size(n);
    const NAME: usize = 28;
    let font = if cell < 14.0 { 9.0 } else { 11.0 };
    let names: Vec<&str> = view
        .entries
        .iter()
        .take(n)
        .map(|e| e.display_name.as_str())
        .collect();
    let label = label_width(names.iter().map(|s| s.chars().count()), NAME, font);
    // Column names are rotated 45°: they rise about 0.71 of their length.
    let (left, top) = (label, label * 0.71 + 8.0);
    let max_battles = view
        .battles
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let size = |k: usize| k as f64 * cell;
    let (w, h) = (left + size(n) + top * 0.71, top + size(n) + 6.0);
    let mut svg = format!(
        "<svg class=\"heatmap\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         role=\"img\" font-size=\"{font}\" aria-label=\"{}\">",
        if rates {
            "Win rate of each row model against each column model"
        } else {
            "Battles between each pair of models"
        }
    );
    for (i, name) in names.iter().enumerate() {
        let (full, cut) = (escape(name), short(name, NAME));
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{full}</title>{cut}</text>\
             <text transform=\"translate({},{}) rotate(-45)\"><title>{full}</title>{cut}</text>",
            left - 4.0,
            top + size(i) + cell / 2.0 + font / 3.0,
            left + size(i) + cell / 2.0,
            top - 4.0
        );
    }
    for i in 0..n {
        for j in 0..n {
            let (fill, value) = if rates {
                match view.win_rate[i][j] {
                    Some(p) => {
                        let blue = (255.0 * (1.0 - p)) as u8;
                        let red = (255.0 * p) as u8;
                        (format!("rgb({red},200,{blue})"), format!("{p:.2}"))
                    }
                    None => ("#eeeeee".into(), String::new()),
                }
            } else {
                let b = view.battles[i][j];
                let shade = 255 - (200.0 * b as f64 / max_battles) as u8;
                (
                    format!("rgb({shade},{shade},255)"),
                    if i == j { String::new() } else { b.to_string() },
                )
            };
            let tip = if value.is_empty() {
                String::new()
            } else {
                format!(
                    "<title>{} vs {}: {value}</title>",
                    escape(names[i]),
                    escape(names[j])
                )
            };
            svg += &format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#fff\">{tip}</rect>",
                left + size(j),
                top + size(i),
            );
            if numbers && !value.is_empty() {
                svg += &format!(
                    "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\">{value}</text>",
                    left + size(j) + cell / 2.0,
                    top + size(i) + cell / 2.0 + 3.5,
                    if cell < 30.0 { 8 } else { 11 }
                );
            }
        }
    }
    svg + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_domain::api::LeaderboardFilter;

    fn view(n: usize, name_len: usize) -> LeaderboardView {
        let entries = (0..n)
            .map(|i| LeaderboardEntry {
                rank: Some(i + 1),
                model: format!("m{i}"),
                display_name: format!("{i:03}{}", "x".repeat(name_len.saturating_sub(3))),
                organization: String::new(),
                license: String::new(),
                rating: Some(1200.0 - i as f64),
                ci_lower: Some(1190.0 - i as f64),
                ci_upper: Some(1210.0 - i as f64),
                votes: 100,
                provisional: false,
                votes_to_rank: None,
                posterior_rating: None,
                credible_lower: None,
                credible_upper: None,
            })
            .collect();
        LeaderboardView {
            run_id: 1,
            method: String::new(),
            max_vote_id: 1,
            vote_count: 1,
            computed_at: String::new(),
            filter: LeaderboardFilter::default(),
            entries,
            warnings: Vec::new(),
            battles: vec![vec![3; n]; n],
            win_rate: vec![vec![Some(0.5); n]; n],
            params: serde_json::Value::Null,
            tie_parameter: None,
        }
    }

    fn number(svg: &str, attr: &str) -> f64 {
        let at = svg.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
        svg[at..].split('"').next().unwrap().parse().unwrap()
    }

    /// Two models make a small heatmap at its natural size (the page's CSS only shrinks it), and
    /// 200 models one that is still drawn cell by cell, compactly, without numbers in cells.
    #[test]
    fn heatmaps_stay_readable_from_2_to_200_models() {
        let two = heatmap(&view(2, 12), true);
        assert!(number(&two, "width") < 260.0, "{two}");
        assert_eq!(two.matches("<rect").count(), 4);
        assert!(two.contains(">0.50</text>"));
        let many = heatmap(&view(200, 12), false);
        assert_eq!(many.matches("<rect").count(), 200 * 200);
        assert!(!many.contains(">3</text>"), "no numbers in 9-px cells");
        assert!(number(&many, "width") < 2000.0);
    }

    /// Long names are cut (the whole name in a tooltip) and the label column grows with the
    /// longest name up to a bound: nothing clips the names, nothing pushes the plot off the page.
    #[test]
    fn the_interval_plot_makes_room_for_names_and_cuts_long_ones() {
        let short_names = ci_plot(&view(3, 6));
        let long_names = ci_plot(&view(3, 80));
        assert!(number(&long_names, "width") > number(&short_names, "width"));
        assert!(number(&long_names, "width") < 800.0);
        assert!(long_names.contains('…'));
        assert!(long_names.contains(&format!("<title>000{}</title>", "x".repeat(77))));
        let dense = ci_plot(&view(200, 20));
        assert_eq!(dense.matches("<circle").count(), 200);
        assert!(number(&dense, "height") < 200.0 * 15.0);
    }

    #[test]
    fn cut_names_keep_their_start_and_end_so_models_stay_apart() {
        let a = short("SmolLM2-135M-Instruct (temperature 0.2)", 28);
        let b = short("SmolLM2-135M-Instruct (temperature 1.0)", 28);
        assert_ne!(a, b);
        assert_eq!(a.chars().count(), 28);
        assert!(
            a.starts_with("SmolLM2-135M") && a.ends_with("ature 0.2)"),
            "{a}"
        );
        assert!(a.contains('…'));
        assert_eq!(short("alpha", 28), "alpha");
        assert_eq!(short("a<b>", 28), "a&lt;b&gt;");
    }

    #[test]
    fn provisional_models_are_drawn_with_their_credible_interval() {
        let mut v = view(2, 5);
        let e = &mut v.entries[1];
        e.provisional = true;
        e.rank = None;
        e.rating = Some(1500.0);
        e.posterior_rating = Some(1020.0);
        e.credible_lower = Some(900.0);
        e.credible_upper = Some(1140.0);
        let svg = ci_plot(&v);
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains("<title>1020 (900–1140), provisional</title>"));
        assert!(!svg.contains("1500"));
    }
}
