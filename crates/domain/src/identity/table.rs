//! The data of the identity check: model families and vendors with their spellings, and the
//! word lists that say when a name is a self-reference. The matcher is in the parent module.

/// How freely a name is flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Means nothing but the model or vendor: flagged anywhere.
    Distinctive,
    /// Also an everyday word: flagged only with a version tail or in self-reference.
    Ordinary,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    pub(super) kind: Kind,
    /// No version tail and no Basque case ending: the name must be a whole word ("xAI").
    pub(super) whole_word: bool,
    /// A plain integer after a space is a version ("Llama 2", "GPT 4"); for other ordinary names
    /// it is a count ("Falcon 9", "Gemini 4").
    pub(super) bare_number: bool,
    /// Also a first name: not flagged when a capitalised surname follows ("Claude Monet").
    pub(super) given_name: bool,
    /// A big company whose name is everyday text ("made by Google"): "… by X" must be first
    /// person ("I was trained by X", "a model developed by X").
    pub(super) company: bool,
    /// Next words that make it a fixed phrase, not a name ("anthropic principle").
    pub(super) not_before: &'static [&'static str],
    /// If the answer contains this anywhere, the name means something else ("explainable" for
    /// XAI).
    pub(super) spoiled_by: Option<&'static str>,
}

/// One model family or vendor with its spellings (lower case; a space also matches a run of
/// white space, a hyphen or an underscore, so "command r" covers "Command-R").
pub(super) struct Name {
    pub(super) spellings: &'static [&'static str],
    pub(super) rules: Rules,
}

impl Name {
    pub(super) const fn new(kind: Kind, spellings: &'static [&'static str]) -> Self {
        Self {
            spellings,
            rules: Rules {
                kind,
                whole_word: false,
                bare_number: false,
                given_name: false,
                company: false,
                not_before: &[],
                spoiled_by: None,
            },
        }
    }
    pub(super) const fn whole_word(mut self) -> Self {
        self.rules.whole_word = true;
        self
    }
    pub(super) const fn bare_number(mut self) -> Self {
        self.rules.bare_number = true;
        self
    }
    pub(super) const fn given_name(mut self) -> Self {
        self.rules.given_name = true;
        self
    }
    /// Companies: whole words (no "Microsoft-365" version tails) and first-person "by".
    pub(super) const fn company(mut self) -> Self {
        self.rules.company = true;
        self.rules.whole_word = true;
        self
    }
    pub(super) const fn not_before(mut self, words: &'static [&'static str]) -> Self {
        self.rules.not_before = words;
        self
    }
    pub(super) const fn spoiled_by(mut self, word: &'static str) -> Self {
        self.rules.spoiled_by = Some(word);
        self
    }
}

pub(super) const fn d(spellings: &'static [&'static str]) -> Name {
    Name::new(Kind::Distinctive, spellings)
}

pub(super) const fn o(spellings: &'static [&'static str]) -> Name {
    Name::new(Kind::Ordinary, spellings)
}

/// Model families and vendors, with the spellings seen in answers.
pub(super) const NAMES: &[Name] = &[
    // Vendors.
    d(&["openai"]),
    d(&["anthropic"]).not_before(&["principle", "principles", "argument", "reasoning", "bias"]),
    d(&["meta ai", "meta-llama"]),
    d(&["google deepmind", "deepmind"]),
    d(&["mistral ai", "mistralai"]),
    d(&["alibaba cloud"]),
    d(&["hugging face", "huggingface"]),
    d(&["hitz zentroa", "hitz center", "hitz centre"]),
    d(&["01.ai"]),
    d(&["allenai", "allen ai", "allen institute for ai"]),
    d(&["xai", "x.ai"]).whole_word().spoiled_by("explainable"),
    d(&["zhipu", "zhipuai"]),
    d(&["stability ai", "stabilityai"]),
    d(&["nous research", "nousresearch"]),
    d(&["eleutherai"]),
    d(&["bigscience"]),
    d(&["ai21 labs", "ai21"]),
    d(&["moonshot ai"]),
    d(&["inflection ai"]),
    d(&["cohere ai", "cohere for ai", "cohereforai", "c4ai"]),
    // Model families.
    d(&["chatgpt", "chat gpt"]),
    d(&["claude"]).given_name(),
    d(&["qwen", "qwq", "tongyi qianwen", "tongyi"]),
    d(&["deepseek", "deep seek"]),
    d(&["mixtral"]),
    d(&["smollm"]),
    d(&["latxa"]),
    d(&["command r"]),
    d(&["grok"]),
    d(&["gemma"]).given_name(),
    d(&["internlm"]),
    d(&["baichuan"]),
    d(&["chatglm"]),
    d(&["ernie bot", "erniebot"]),
    d(&["hunyuan"]),
    d(&["nemotron"]),
    d(&["starcoder"]),
    d(&["codellama", "code llama"]),
    d(&["tinyllama"]),
    d(&["wizardlm"]),
    d(&["openchat"]),
    d(&["openelm"]),
    d(&["stablelm"]),
    d(&["dbrx"]),
    d(&["llava"]),
    d(&["openhermes", "nous hermes"]),
    d(&["bloomz"]),
    d(&["gpt-j", "gpt-neo", "gpt-neox"]),
    d(&["bing chat"]),
    // Ordinary words: flagged only with a version tail or in self-reference. Bare "GPT" is one
    // of them: "GPT stands for Generative Pre-trained Transformer" (or GUID Partition Table) is
    // a definition, not a leak, while "GPT-4o", "gpt4" and "I am GPT" are.
    o(&["gpt"]).bare_number(),
    o(&["llama"]).bare_number(),
    o(&["mistral"]),
    o(&["gemini"]),
    o(&["falcon"]),
    o(&["bard"]),
    o(&["phi"]),
    o(&["yi"]),
    o(&["orca"]),
    o(&["alpaca"]),
    o(&["vicuna"]), // an Andean camelid
    o(&["zephyr"]), // a gentle breeze
    o(&["olmo"]),   // Spanish for elm
    o(&["cohere"]), // an English verb
    o(&["copilot"]),
    o(&["glm"]), // generalised linear model
    o(&["ernie"]),
    o(&["palm"]),
    o(&["lamda"]),
    o(&["bloom"]),
    o(&["jamba"]),
    o(&["kimi"]),
    o(&["minimax"]),
    o(&["salamandra"]),
    o(&["hitz"]), // Basque for "word"
    o(&["solar"]),
    o(&["granite"]),
    o(&["hermes"]),
    o(&["pythia"]),
    o(&["mpt"]),
    // Big companies.
    o(&["google"]).company(),
    o(&["meta"]).company(),
    o(&["microsoft"]).company(),
    o(&["amazon"]).company(),
    o(&["nvidia"]).company(),
    o(&["ibm"]).company(),
    o(&["alibaba"]).company(),
    o(&["baidu"]).company(),
    o(&["tencent"]).company(),
];

/// Everyday words that an arena model's family word must not be ("Tiny Model" → "tiny").
pub(super) const COMMON_WORDS: &[&str] = &[
    "the",
    "tiny",
    "small",
    "mini",
    "little",
    "base",
    "model",
    "chat",
    "open",
    "big",
    "large",
    "local",
    "test",
    "demo",
    "default",
    "fast",
    "smart",
    "super",
    "new",
    "old",
    "best",
    "good",
    "arena",
    "bot",
    "assistant",
    "instruct",
    "llm",
];

/// Version suffixes after a hyphen or underscore ("-Instruct", "_chat", "-it").
pub(super) const SUFFIX_WORDS: &[&str] = &[
    "instruct", "chat", "turbo", "mini", "nano", "pro", "flash", "ultra", "sonnet", "opus",
    "haiku", "instant", "coder", "code", "base", "it", "vision", "max", "plus", "large", "medium",
    "small", "lite", "preview", "math", "hf", "vl", "beta", "alpha", "omni", "reasoner",
    "thinking", "exp", "latest", "air", "online", "sft", "dpo", "gguf", "awq",
];

/// Version suffixes after a space ("Claude 3.5 Sonnet", "GPT-4 Turbo", "Qwen Max").
pub(super) const SPACE_WORDS: &[&str] = &[
    "sonnet", "opus", "haiku", "turbo", "mini", "nano", "pro", "ultra", "flash", "instruct",
    "instant", "max", "plus", "chat", "coder", "code", "vision", "large", "small", "medium",
    "lite", "preview", "thinking",
];

/// The few suffixes that make an ordinary word a model name right after a space ("Gemini Pro");
/// "mini", "large", "plus" are left out: "a llama plus a donkey" is English.
pub(super) const ORDINARY_SPACE_WORDS: &[&str] = &[
    "pro", "ultra", "nano", "flash", "sonnet", "opus", "haiku", "turbo", "instruct",
];

/// Basque case endings allowed after a distinctive name ("Latxak", "OpenAIren", "Qwenekin").
pub(super) const BASQUE_ENDINGS: &[&str] = &[
    "k", "ek", "ak", "ren", "aren", "en", "ri", "ari", "rekin", "arekin", "ekin", "z", "ez", "az",
    "ko", "eko", "tik", "etik",
];

/// Self-reference right before an ordinary name: "I am X", "a model called X", "Soy X".
pub(super) const SELF_BEFORE: &[&str] = &[
    "i am ",
    "i'm ",
    "my name is ",
    "call me ",
    "i am called ",
    "i'm called ",
    "i am named ",
    "i am known as ",
    "i'm known as ",
    "model called ",
    "model named ",
    "assistant called ",
    "assistant named ",
    "chatbot called ",
    "chatbot named ",
    "ai called ",
    "ai named ",
    "llm called ",
    "model from ",
    "assistant from ",
    "chatbot from ",
    "llm from ",
    "ai from ",
    "soy ",
    "me llamo ",
    "mi nombre es ",
    "soy un modelo ",
    "soy un asistente ",
    "modelo llamado ",
    "asistente llamado ",
    "ia llamada ",
    "nire izena ",
];

/// Authorship right before a name: "developed by X", "entrenado por X".
pub(super) const BY_BEFORE: &[&str] = &[
    "developed by ",
    "trained by ",
    "created by ",
    "made by ",
    "built by ",
    "designed by ",
    "powered by ",
    "released by ",
    "produced by ",
    "provided by ",
    "fine-tuned by ",
    "finetuned by ",
    "developed at ",
    "trained at ",
    "desarrollado por ",
    "desarrollada por ",
    "creado por ",
    "creada por ",
    "entrenado por ",
    "entrenada por ",
    "hecho por ",
    "hecha por ",
];

/// What must precede "developed by" for a company name: "I was trained by Google".
pub(super) const FIRST_PERSON_BEFORE_BY: &[&str] = &[
    "i was ",
    "i am ",
    "i'm ",
    "i've been ",
    "i have been ",
    "i was originally ",
    "model ",
    "model, ",
    "model was ",
    "assistant ",
    "assistant, ",
    "ai ",
    "llm ",
    "chatbot ",
    "fui ",
    "soy ",
    "modelo ",
    "modelo, ",
    "asistente ",
    "ia ",
];

/// "I am a X model": an article after which the name must be followed by [`MODEL_WORDS`].
pub(super) const ARTICLE_BEFORE: &[&str] = &[
    "i am a ", "i am an ", "i'm a ", "i'm an ", "soy un ", "soy una ",
];

/// Same as [`ARTICLE_BEFORE`], but only at the start of a clause: "As a Falcon model, …".
pub(super) const CLAUSE_ARTICLE_BEFORE: &[&str] = &["as a ", "as an ", "como un ", "como una "];

/// "As X, …" at the start of a clause.
pub(super) const CLAUSE_BEFORE: &[&str] = &["as ", "como "];

pub(super) const MODEL_WORDS: &[&str] = &[
    "model",
    "language",
    "llm",
    "assistant",
    "chatbot",
    "ai",
    "modelo",
    "asistente",
    "ia",
];

/// "X, a (large) language model": what follows the article.
pub(super) const DESCRIPTORS: &[&str] = &[
    "language",
    "model",
    "ai",
    "assistant",
    "chatbot",
    "llm",
    "multimodal",
    "conversational",
    "modelo",
    "asistente",
    "ia",
];

/// Basque verbs after "X-k": "Mistral-k garatua", "HiTZek sortutako eredua".
pub(super) const BASQUE_AGENT_VERBS: &[&str] = &["garatu", "sortu", "entrenatu"];
