//! The `arena-ratings` binary: outputs, and exit code 2 with the line number
//! on bad input.

use std::process::{Command, Output};

fn run(args: &[&str], files: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir().join(format!(
        "arena-ratings-cli-{}-{}",
        std::process::id(),
        args.join("_").replace(['/', ' ', '='], "")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_arena-ratings"))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap()
}

const COUNTS: &str = "model_a,model_b,wins_a,wins_b,ties,both_bad\n\
a,b,30,10,4,2\n\
b,c,12,9,3,0\n\
c,a,5,20,2,1\n\
b,a,3,2,0,0\n";

#[test]
fn fit_counts_csv() {
    let out = run(&["fit", "--counts", "in.csv"], &[("in.csv", COUNTS)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("model,rating,ci_lower,ci_upper,rank,votes")
    );
    assert!(lines.next().unwrap().starts_with("a,"));
}

#[test]
fn fit_json_with_anchor_and_bootstrap() {
    let out = run(
        &[
            "fit",
            "--counts",
            "in.csv",
            "--anchor",
            "b=1114",
            "--ci",
            "bootstrap",
            "--bootstrap-rounds",
            "50",
            "--seed",
            "3",
            "--format",
            "json",
        ],
        &[("in.csv", COUNTS)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "b")
        .unwrap();
    assert!((b["rating"].as_f64().unwrap() - 1114.0).abs() < 1e-9);
    assert_eq!(b["votes"], 75);
}

#[test]
fn bad_counts_name_the_line_and_exit_2() {
    for (content, needle) in [
        (
            "model_a,model_b,wins_a,wins_b,ties\na,b,1,2,3\n",
            "line 1: missing column(s) both_bad",
        ),
        (
            "model_a,model_b,wins_a,wins_b,ties,both_bad\na,b,1,2,3,0\na,b,-1,2,3,0\n",
            "line 3",
        ),
        (
            "model_a,model_b,wins_a,wins_b,ties,both_bad\na,b,1.5,2,3,0\n",
            "line 2",
        ),
        (
            "model_a,model_b,wins_a,wins_b,ties,both_bad\na,b,1,2,3,0\nc,c,1,2,3,0\n",
            "line 3: model \"c\" is paired with itself",
        ),
    ] {
        let out = run(&["fit", "--counts", "bad.csv"], &[("bad.csv", content)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err} should contain {needle}");
    }
}

const BATTLES: &str = r#"{"model_a": "a", "model_b": "b", "winner": "model_a", "tstamp": 2}
{"model_a": "b", "model_b": "a", "winner": "tie", "tstamp": 1}

{"model_a": "b", "model_b": "c", "winner": "tie (bothbad)", "tstamp": 3}
{"model_a": "c", "model_b": "a", "winner": "model_a", "tstamp": 4}
{"model_a": "c", "model_b": "b", "winner": "both_bad", "tstamp": 5}
{"model_a": "a", "model_b": "b", "winner": "model_b", "tstamp": 6}
"#;

#[test]
fn battles_fit_and_elo() {
    let out = run(&["fit", "--battles", "b.jsonl"], &[("b.jsonl", BATTLES)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["elo", "--battles", "b.jsonl"], &[("b.jsonl", BATTLES)]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("model,rating,battles\n"));
}

#[test]
fn bad_battles_name_the_line_and_exit_2() {
    for (content, needle) in [
        (
            "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"model_a\"}\n{not json\n",
            "line 2: malformed JSON",
        ),
        (
            "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"draw\"}\n",
            "line 1: unknown winner \"draw\"",
        ),
        (
            "\n{\"model_a\":\"a\",\"model_b\":\"a\",\"winner\":\"tie\"}\n",
            "line 2: model \"a\" is paired with itself",
        ),
        (
            "{\"model_a\":\"a\",\"winner\":\"tie\"}\n",
            "line 1: malformed JSON",
        ),
    ] {
        for cmd in ["fit", "elo"] {
            let out = run(&[cmd, "--battles", "bad.jsonl"], &[("bad.jsonl", content)]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(err.contains(needle), "{err} should contain {needle}");
        }
    }
}

#[test]
fn disconnected_data_fails_with_exit_1_and_ridge_fixes_it() {
    let content = "model_a,model_b,wins_a,wins_b,ties,both_bad\na,b,3,2,0,0\nc,d,1,4,1,0\n";
    let out = run(&["fit", "--counts", "d.csv"], &[("d.csv", content)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not connected"));
    let out = run(
        &["fit", "--counts", "d.csv", "--ridge", "0.01"],
        &[("d.csv", content)],
    );
    assert!(out.status.success());
}

#[test]
fn simulate_target_mode_compares_the_policies() {
    let small = [
        "simulate",
        "--target-width",
        "100",
        "--models",
        "6",
        "--strength-sd",
        "150",
        "--replicates",
        "2",
        "--batch",
        "100",
    ];
    let out = run(&small, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["uniform ", "active ", "active / uniform:", "fewer votes"] {
        assert!(text.contains(needle), "{text} should contain {needle}");
    }
    // one policy, as JSON
    let mut args = small.to_vec();
    args.extend([
        "--sampling",
        "active",
        "--criterion",
        "chatbot-arena",
        "--json",
    ]);
    let out = run(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["report"]["sampling"]["policy"], "active");
    assert_eq!(report["report"]["sampling"]["criterion"], "chatbot_arena");
    assert_eq!(
        report["report"]["votes_needed"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn simulate_coverage_mode_takes_a_sampling_policy() {
    for policy in ["uniform", "active"] {
        let out = run(
            &[
                "simulate",
                "--sampling",
                policy,
                "--models",
                "5",
                "--votes",
                "600",
                "--replicates",
                "3",
                "--bootstrap-rounds",
                "20",
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("coverage"));
    }
}

#[test]
fn bad_sampling_options_exit_2() {
    for (args, needle) in [
        (
            &["simulate", "--sampling", "foo"][..],
            "invalid value 'foo' for '--sampling <SAMPLING>'",
        ),
        (
            &["simulate", "--target-width", "50", "--floor", "1.5"][..],
            "floor must be in [0, 1], got 1.5",
        ),
        (
            &["simulate", "--target-width", "0"][..],
            "target width must be a finite number of Elo points > 0",
        ),
        (
            &["simulate", "--target-width", "50", "--batch", "0"][..],
            "batch must be ≥ 1",
        ),
        (
            &[
                "simulate",
                "--compare",
                "--sampling",
                "active",
                "--target-width",
                "50",
            ][..],
            "cannot be used with",
        ),
        (&["simulate", "--compare"][..], "--target-width"),
    ] {
        let out = run(args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{err} should contain {needle}");
    }
}
