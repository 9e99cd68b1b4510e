//! The rules of a rubric, the checks of a campaign and its answers, the console's text formats.

use super::*;

fn rubric(rule: WinnerRule) -> Rubric {
    Rubric {
        axes: vec![
            Axis {
                key: "content".into(),
                label: "Content".into(),
            },
            Axis {
                key: "language".into(),
                label: "Language".into(),
            },
            Axis {
                key: "style".into(),
                label: "Style".into(),
            },
        ],
        rule,
    }
}

fn verdicts(c: &str, l: &str, s: &str) -> BTreeMap<String, String> {
    [("content", c), ("language", l), ("style", s)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_ordered_rule_lets_the_first_untied_axis_decide() {
    let r = rubric(WinnerRule::Ordered {
        order: vec!["content".into(), "language".into(), "style".into()],
    });
    r.check().unwrap();
    assert_eq!(
        r.derive(&verdicts("model_a", "model_b", "model_b"))
            .unwrap(),
        Winner::ModelA
    );
    assert_eq!(
        r.derive(&verdicts("tie", "model_b", "model_a")).unwrap(),
        Winner::ModelB
    );
    assert_eq!(
        r.derive(&verdicts("tie", "tie", "model_a")).unwrap(),
        Winner::ModelA
    );
    assert_eq!(
        r.derive(&verdicts("tie", "tie", "tie")).unwrap(),
        Winner::Tie
    );
    // Language first instead: the same verdicts, another winner.
    let r = rubric(WinnerRule::Ordered {
        order: vec!["language".into(), "content".into(), "style".into()],
    });
    assert_eq!(
        r.derive(&verdicts("model_a", "model_b", "model_b"))
            .unwrap(),
        Winner::ModelB
    );
}

#[test]
fn the_majority_rule_counts_axes() {
    let r = rubric(WinnerRule::Majority);
    assert_eq!(
        r.derive(&verdicts("model_a", "model_b", "model_b"))
            .unwrap(),
        Winner::ModelB
    );
    assert_eq!(
        r.derive(&verdicts("model_a", "tie", "model_b")).unwrap(),
        Winner::Tie
    );
    assert_eq!(
        r.derive(&verdicts("model_a", "tie", "tie")).unwrap(),
        Winner::ModelA
    );
}

#[test]
fn bad_verdicts_are_refused_with_the_axis_named() {
    let r = rubric(WinnerRule::Majority);
    let mut v = verdicts("model_a", "model_b", "tie");
    v.remove("style");
    assert!(r.derive(&v).unwrap_err().message.contains("style"));
    let v = verdicts("model_a", "both_bad", "tie");
    assert_eq!(r.derive(&v).unwrap_err().field, "axes");
    let mut v = verdicts("model_a", "model_b", "tie");
    v.insert("speed".into(), "tie".into());
    assert!(r.derive(&v).unwrap_err().message.contains("speed"));
    let v = verdicts("left", "model_b", "tie");
    assert!(r.derive(&v).is_err());
}

#[test]
fn a_rule_must_order_every_axis_once() {
    let r = rubric(WinnerRule::Ordered {
        order: vec!["content".into(), "language".into()],
    });
    assert!(r.check().is_err());
    let r = rubric(WinnerRule::Ordered {
        order: vec!["content".into(), "content".into(), "style".into()],
    });
    assert!(r.check().is_err());
}

#[test]
fn registration_answers_are_checked_against_the_questions() {
    let qs = parse_questions(
        "proficiency: How well do you speak Basque? (1-5)\n\
         education: Education [primary | secondary | university]",
    )
    .unwrap();
    assert_eq!(qs.len(), 2);
    assert_eq!(qs[0].kind, QuestionKind::Scale { min: 1, max: 5 });
    assert_eq!(
        questions_text(&qs),
        "proficiency: How well do you speak Basque? (1-5)\neducation: Education [primary | secondary | university]"
    );
    let ok: Registration =
        serde_json::from_str(r#"{"proficiency": 4, "education": "university"}"#).unwrap();
    check_registration(&qs, &ok).unwrap();
    for bad in [
        r#"{"proficiency": 6, "education": "university"}"#,
        r#"{"proficiency": "4", "education": "university"}"#,
        r#"{"proficiency": 4, "education": "none"}"#,
        r#"{"proficiency": 4}"#,
        r#"{"proficiency": 4, "education": "primary", "age": 30}"#,
    ] {
        let answers: Registration = serde_json::from_str(bad).unwrap();
        assert!(check_registration(&qs, &answers).is_err(), "{bad}");
    }
    assert!(parse_questions("age: Age").is_err());
    assert!(parse_questions("no colon (1-5)").is_err());
}

#[test]
fn axes_text_round_trips_and_inputs_are_checked() {
    let r = parse_axes("content: Content\nlanguage: Language quality", false)
        .unwrap()
        .unwrap();
    assert_eq!(
        r.rule,
        WinnerRule::Ordered {
            order: vec!["content".into(), "language".into()]
        }
    );
    assert_eq!(
        axes_text(Some(&r)),
        "content: Content\nlanguage: Language quality"
    );
    assert_eq!(parse_axes("  \n", false).unwrap(), None);
    assert!(parse_axes("content: A\ncontent: B", false).is_err());
    let input = CampaignInput {
        slug: "euskara-2026".into(),
        name: "Basque arena".into(),
        description: String::new(),
        starts_at: None,
        ends_at: None,
        languages: vec!["eu".into()],
        models: vec![],
        pairing: CampaignPairing::Uniform,
        sign_in_required: true,
        questions: vec![],
        rubric: Some(r),
        version: None,
    };
    input.check().unwrap();
    for (field, bad) in [
        (
            "slug",
            CampaignInput {
                slug: "Bad Slug".into(),
                ..input.clone()
            },
        ),
        (
            "name",
            CampaignInput {
                name: " ".into(),
                ..input.clone()
            },
        ),
        (
            "languages",
            CampaignInput {
                languages: vec!["e u".into()],
                ..input.clone()
            },
        ),
        (
            "models",
            CampaignInput {
                models: vec!["only-one".into()],
                ..input.clone()
            },
        ),
    ] {
        assert_eq!(bad.check().unwrap_err().field, field);
    }
    assert_eq!(check_alias("  Mikel_88 ").unwrap(), "Mikel_88");
    assert!(check_alias("<script>").is_err());
    assert!(check_alias("x").is_err());
}
