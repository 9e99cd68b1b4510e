//! Tests of the parent module.

use super::*;

const NONE: &[&str] = &[];

/// `(answer, flagged?)`.
const CASES: &[(&str, bool)] = &[
    // Flagged: distinctive names, version tails, self-reference.
    ("I'm Qwen2.5, made by Alibaba Cloud.", true),
    ("As Llama3, I can't browse the web.", true),
    ("I am GPT-4o.", true),
    ("This is gpt4o speaking.", true),
    ("I am Claude 3.5 Sonnet, an AI assistant.", true),
    ("Soy Mistral, un modelo de lenguaje.", true),
    ("I am Gemini, a large language model by Google.", true),
    ("I was trained by Mistral AI.", true),
    ("As a Falcon model, I don't have opinions.", true),
    ("Ni Latxa naiz.", true),
    ("I'm Phi-3, a small model.", true),
    ("Llama-3.1 here, how can I help?", true),
    ("I am ChatGPT, developed by OpenAI.", true),
    ("Hello! I'm SmolLM, trained by Hugging Face.", true),
    ("I'm DeepSeek-V3.", true),
    ("Mixtral-8x7B is answering you.", true),
    ("I am Grok, built by xAI.", true),
    ("Developed by Google DeepMind, I can help.", true),
    ("I'm a model from Meta AI.", true),
    ("Me llamo Gemini y puedo ayudarte.", true),
    (
        "Desarrollado por Mistral, este asistente responde en español.",
        true,
    ),
    ("I am Bard, Google's experimental assistant.", true),
    ("As Gemini, I cannot see images.", true),
    ("I'm Gemini 1.5 Pro.", true),
    ("This answer was written by Mistral-7B-Instruct.", true),
    ("Falcon-40B at your service.", true),
    ("My name is Llama.", true),
    ("I'm an OLMo model from AllenAI.", true),
    ("I am Command R, made by Cohere.", true),
    ("I'm Yi-34B, from 01.ai.", true),
    ("Gemma 2 is my name.", true),
    ("I\u{2019}m Mistral, how can I help?", true),
    ("I am Vicuna, a chat assistant.", true),
    ("Zephyr-7B-beta says hi.", true),
    ("I am InternLM2.", true),
    ("ChatGLM3-6B responds.", true),
    ("I am GLM-4, trained by Zhipu AI.", true),
    ("Hi, I'm ERNIE Bot.", true),
    ("Qwen ereduak idatzi du hau.", true),
    ("Latxak idatzi du testu hau.", true),
    ("I am an AI assistant called Copilot.", true),
    ("I'm gpt-3.5-turbo.", true),
    ("I am GPT 4.", true),
    ("As an Orca model, I follow instructions.", true),
    ("Baichuan2 here.", true),
    ("I'm Phi.", true),
    ("I am a Llama model created by Meta.", true),
    ("I am a large language model, trained by Google.", true),
    ("Ni Gemini naiz, Googlek garatutako eredua.", true),
    ("Gemini Pro here, ready to help.", true),
    ("Soy Llama 3, un modelo de Meta.", true),
    ("Claude here! How can I help?", true),
    ("Mistral-k garatutako eredua naiz.", true),
    ("🤖 Kaixo! GPT-4o-mini naiz.", true),
    ("I am Gemini 2.0 Flash.", true),
    ("Falcon 180B was trained on RefinedWeb.", true),
    // Not flagged: everyday words, partial words, fixed phrases, ordinary text.
    ("The mistral wind blows through Provence.", false),
    ("A llama carries packs in the Andes.", false),
    ("Gemini is the third sign of the zodiac.", false),
    ("Shakespeare, the bard of Avon, wrote sonnets.", false),
    ("The peregrine falcon is the fastest bird.", false),
    ("Phi is the golden ratio, about 1.618.", false),
    ("The cat bombarded the claudette with yarn.", false),
    ("They bombarded the town at dawn.", false),
    ("I am a large language model.", false),
    ("I am happy to help!", false),
    (
        "Mix 2 cups of flour with 1 egg and bake at 180 °C for 25 minutes.",
        false,
    ),
    (
        "fn main() { let v = vec![1, 2, 3]; println!(\"{v:?}\"); }",
        false,
    ),
    ("Kaixo! Zer moduz? Hitz egin dezagun euskaraz.", false),
    ("El olmo es un árbol de hoja caduca.", false),
    // A definition of the acronym, not a model's name: bare "GPT" is an ordinary word.
    ("GPT stands for Generative Pre-trained Transformer.", false),
    ("I'm grokking the concept of recursion.", false),
    ("Llamas and alpacas are camelids.", false),
    ("Falcon 9 is a SpaceX rocket.", false),
    ("Gemini 4 was the first American spacewalk mission.", false),
    ("I'm a Gemini, so I love conversation.", false),
    ("Claude Monet painted water lilies.", false),
    ("Jean-Claude Van Damme is an actor.", false),
    ("The anthropic principle is a philosophical idea.", false),
    (
        "Explainable AI (XAI) methods make models transparent.",
        false,
    ),
    ("The arguments cohere nicely.", false),
    ("A gentle zephyr cooled the afternoon.", false),
    ("The vicuna lives in the high Andes.", false),
    ("An orca can weigh six tonnes.", false),
    ("Microsoft Excel can sort the table for you.", false),
    ("This phone was made by Google.", false),
    ("He is as fast as a falcon, they say.", false),
    ("The meta-analysis included 40 studies.", false),
    ("Palm oil is used in many foods.", false),
    ("Bloom's taxonomy classifies learning objectives.", false),
    (
        "A GLM (generalized linear model) is a statistical tool.",
        false,
    ),
    ("Ernie and Bert live on Sesame Street.", false),
    ("Gemma Chan starred in the film.", false),
    (
        "Mi perro se llama Toby y la llama de la vela es azul.",
        false,
    ),
    ("Yi is a common Chinese surname.", false),
    ("The bard sang 2 songs.", false),
    ("Phi 1.618 is irrational.", false),
    ("My name is Alex and I love llamas.", false),
    ("Ni ikaslea naiz eta hitzak ikasten ditut.", false),
    ("🦙 Llamas are cute! 🌬️ The mistral is cold.", false),
    ("A cold wind called mistral blows in winter.", false),
    ("Alpaca wool is warm and soft.", false),
    ("The copilot helps the pilot land the plane.", false),
    ("Solar panels convert sunlight into electricity.", false),
    ("İstanbul is a city with two continents.", false),
    ("Use the Google search bar, then open Amazon.", false),
    ("Granite is an igneous rock; Hermes is a Greek god.", false),
    ("Soy estudiante y me gusta el viento mistral.", false),
    ("The Yi people live in Sichuan.", false),
    ("`let gemini_sign = \"twins\";` is valid Rust.", false),
    ("Falcon Heavy launched in 2018.", false),
    (
        "Entre los felinos y las aves, el halcón (falcon) es rápido.",
        false,
    ),
];

#[test]
fn flags_exactly_the_revealing_answers() {
    let positives = CASES.iter().filter(|(_, flagged)| *flagged).count();
    let negatives = CASES.len() - positives;
    assert!(
        positives >= 40 && negatives >= 40,
        "{positives} + {negatives}"
    );
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|&(answer, expected)| {
            let matches = identity_matches(answer, NONE);
            (matches.is_empty() == expected)
                .then(|| format!("expected {expected}, got {matches:?}: {answer:?}"))
        })
        .collect();
    for failure in &failures {
        eprintln!("{failure}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed",
        failures.len(),
        CASES.len()
    );
}

#[test]
fn reports_the_words_as_written() {
    let cases: &[(&str, &[&str])] = &[
        (
            "I'm Qwen2.5, made by Alibaba Cloud.",
            &["Qwen2.5", "Alibaba Cloud"],
        ),
        ("I am GPT-4o.", &["GPT-4o"]),
        (
            "I am Claude 3.5 Sonnet, by Anthropic.",
            &["Claude 3.5 Sonnet", "Anthropic"],
        ),
        ("Llama-3.1-8B-Instruct here.", &["Llama-3.1-8B-Instruct"]),
        ("Qwen here. qwen again, QWEN!", &["Qwen"]),
        ("I am Gemini, a large language model.", &["Gemini"]),
        (
            "Latxaren ustez, ChatGPTk ez du asmatu.",
            &["Latxaren", "ChatGPTk"],
        ),
        ("I am gpt-4o-mini; GPT stands for …", &["gpt-4o-mini"]),
        ("Hi, I'm Claude Opus 4.", &["Claude Opus 4"]),
        ("Je suis Gemini-1.5-flash.", &["Gemini-1.5-flash"]),
        ("İİİ — I am GPT-4o.", &["GPT-4o"]),
    ];
    for (answer, expected) in cases {
        assert_eq!(identity_matches(answer, NONE), *expected, "{answer:?}");
    }
}

#[test]
fn caps_the_number_of_matches() {
    let answer = (1..=30).map(|n| format!("qwen{n} ")).collect::<String>();
    let matches = identity_matches(&answer, NONE);
    assert_eq!(matches.len(), MAX_MATCHES);
    assert_eq!(matches[0], "qwen1");
}

#[test]
fn uses_the_arena_model_names() {
    assert!(reveals_identity("I am tinyfox.", &["TinyFox"]));
    assert_eq!(identity_matches("I am tinyfox.", &["TinyFox"]), ["tinyfox"]);
    let smol = [
        "smollm2-135m-instruct-t0.2",
        "SmolLM2-135M-Instruct (temperature 0.2)",
    ];
    assert!(reveals_identity("Hello from SmolLM2", &smol));
    assert!(reveals_identity(
        "I am SmolLM2-135M-Instruct (temperature 0.2).",
        &smol
    ));
    // The family word of a name the table does not know.
    assert_eq!(
        identity_matches("Zorblax speaking.", &["Zorblax-7B-Chat"]),
        ["Zorblax"]
    );
    assert!(reveals_identity(
        "I'm zorblax-7b-chat",
        &["org/Zorblax-7B-Chat"]
    ));
    // Too short, or an everyday family word: ignored.
    assert!(!reveals_identity("ab cd", &["ab"]));
    assert!(!reveals_identity("a tiny cat", &["Tiny Model"]));
    assert!(reveals_identity("I am Tiny Model.", &["Tiny Model"]));
    // An arena name that is an ordinary word keeps the ordinary rules.
    assert!(!reveals_identity("The mistral wind.", &["Mistral"]));
    assert!(!reveals_identity("I am fine.", NONE));
    let owned: Vec<String> = vec!["TinyFox".into()];
    assert!(reveals_identity("TinyFox here", &owned));
}

#[test]
fn never_panics_on_char_boundaries() {
    let tricky = "İ I’m Qwen2.5 ß 🦙 ǅ GPT‑4o ΣΑΣ naiz ñ İİ 中文 Claude";
    for (end, _) in tricky.char_indices().chain([(tricky.len(), ' ')]) {
        for (start, _) in tricky[..end].char_indices() {
            identity_matches(&tricky[start..end], &["İzmir-1", "ǅx"]);
        }
    }
    assert_eq!(
        identity_matches(tricky, NONE),
        ["Qwen2.5", "GPT‑4o", "Claude"]
    );
}

#[test]
fn scans_long_answers() {
    let paragraph = "The mistral wind, a llama and I am happy; bombard the bard. ";
    let answer = paragraph.repeat(30_000 / paragraph.len() + 1) + "I am Mistral-7B.";
    assert_eq!(identity_matches(&answer, NONE), ["Mistral-7B"]);
}

#[test]
fn table_is_well_formed() {
    for pattern in table_patterns() {
        assert!(pattern.chars.len() >= 2, "{:?}", pattern.chars);
        assert!(pattern.chars[0].is_alphanumeric(), "{:?}", pattern.chars);
        assert_eq!(
            pattern.chars.iter().collect::<String>(),
            pattern.chars.iter().collect::<String>().to_lowercase()
        );
    }
}

#[test]
fn invisible_look_alike_and_spelled_out_names_are_flagged() {
    // The answer that was counted on the running arena.
    let answer = "I’m Q\u{200b}wen 2.5, built by Ａlibaba; as G-P-T-4o would say";
    let found = identity_matches(answer, NONE);
    assert_eq!(
        found,
        ["Q\u{200b}wen 2.5", "G-P-T-4o"],
        "as written in the answer"
    );
    assert_eq!(
        identity_matches("I was trained by Ａlibaba.", NONE),
        ["Ａlibaba"],
        "full width folded, reported as written"
    );
    for hidden in [
        "I am Сlaude.",          // Cyrillic С
        "I'm Qwеn2.5",           // Cyrillic е
        "Soy DeepSeek\u{2060}.", // a word joiner after
        "I am C\u{00ad}laude",   // a soft hyphen inside
        "I am Ｃｌａｕｄｅ",     // full width
        "As Q.w.e.n, I think",   // spelled out with dots
        "I am L a t x a",        // spelled out with spaces
        "I am Q_w_e_n",
    ] {
        assert!(reveals_identity(hidden, NONE), "{hidden:?}");
    }
    // What must stay unflagged.
    for honest in [
        "a b c d e f",
        "Vitamins A, B and C",
        "I-B-M made the PC",
        "Kaixo! Zer moduz?",
        "Iñaki eta Ane etxera joan dira.",
    ] {
        assert!(!reveals_identity(honest, NONE), "{honest:?}");
    }
}
