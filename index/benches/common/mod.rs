//! A generated corpus shaped like `vigil-bench`'s (bench/src/corpus.rs), small enough
//! to live next to the index benches: 60 % English posts of 10–60 words, 40 % Chinese
//! of 15–120 characters, built clause by clause from Zipf-weighted word lists; about
//! 80 % name a watched brand (Acme / 艾克米, Globex / 环球), about 1.5 % carry crisis
//! words. Deterministic for a seed (its own SplitMix64).

#![allow(dead_code)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use vigil_core::{Engagement, Label, Post, Provenance, Sentiment, StoredPost};

/// The dictionary words `bench/vigil.toml` gives the index: brand names and the CJK
/// terms of the brand queries.
pub fn dictionary_words() -> Vec<String> {
    ["acme", "globex", "环球", "艾克米"]
        .iter()
        .map(|word| word.to_string())
        .collect()
}

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// Zipf-like: the first entries common, a long rare tail.
    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        let n = list.len();
        let rank = ((n + 1) as f64).powf(self.unit()) as usize;
        list[rank.saturating_sub(1).min(n - 1)]
    }
}

const PRODUCTS_EN: &[&str] = &[
    "kettle",
    "toaster",
    "blender",
    "coffee maker",
    "air fryer",
    "rice cooker",
    "mixer",
    "microwave",
    "vacuum",
    "juicer",
    "heater",
    "fan",
    "grill",
    "water filter",
    "oven",
];
const PRONOUNS_EN: &[&str] = &[
    "I",
    "we",
    "my wife",
    "my husband",
    "my mom",
    "my friend",
    "my roommate",
    "our neighbor",
];
const PAST_VERBS_EN: &[&str] = &[
    "bought", "got", "ordered", "returned", "tried", "used", "replaced", "received", "tested",
];
const TIMES_EN: &[&str] = &[
    "yesterday",
    "last week",
    "today",
    "this morning",
    "last month",
    "over the weekend",
    "last night",
];
const POSITIVE_EN: &[&str] = &[
    "great",
    "good",
    "excellent",
    "amazing",
    "perfect",
    "nice",
    "solid",
    "reliable",
    "quiet",
    "sturdy",
];
const NEGATIVE_EN: &[&str] = &[
    "bad",
    "terrible",
    "awful",
    "broken",
    "cheap",
    "flimsy",
    "loud",
    "useless",
    "disappointing",
    "faulty",
];
const DEGREES_EN: &[&str] = &["very", "really", "quite", "so", "pretty", "super", "a bit"];
const ASPECTS_EN: &[&str] = &[
    "lid",
    "handle",
    "price",
    "design",
    "build quality",
    "cord",
    "switch",
    "base",
    "filter",
    "display",
    "warranty",
    "noise",
];
const ACTIONS_EN: &[&str] = &[
    "stopped working",
    "works fine",
    "leaks",
    "gets hot",
    "broke after a week",
    "keeps beeping",
    "smells like plastic",
];
const IDIOMS_EN: &[&str] = &[
    "would buy again",
    "not worth the money",
    "you get what you pay for",
    "five stars",
    "never again",
    "does the job",
];
const CRISIS_EN: &[&str] = &["recall", "fire", "explosion", "shock", "lawsuit", "burn"];
const OTHER_BRANDS_EN: &[&str] = &["Initech", "Hooli", "Umbrella", "Vandelay"];

const SUBJECTS_ZH: &[&str] = &["我", "我们", "老公", "老婆", "妈妈", "朋友", "同事", "室友"];
const TIMES_ZH: &[&str] = &["今天", "昨天", "上周", "前几天", "刚刚", "周末", "双十一"];
const VERBS_ZH: &[&str] = &["买了", "用了", "收到了", "试了", "换了", "退了", "入手了"];
const PRODUCTS_ZH: &[&str] = &[
    "水壶",
    "电水壶",
    "烤面包机",
    "搅拌机",
    "咖啡机",
    "电饭煲",
    "微波炉",
    "吸尘器",
    "空气炸锅",
    "净水器",
];
const DEGREES_ZH: &[&str] = &["非常", "很", "特别", "真的", "有点", "太", "超级", "比较"];
const POSITIVE_ZH: &[&str] = &[
    "好用", "满意", "喜欢", "方便", "漂亮", "安静", "结实", "划算",
];
const NEGATIVE_ZH: &[&str] = &["失望", "难用", "吵", "差劲", "垃圾", "后悔", "麻烦", "糟糕"];
const ASPECTS_ZH: &[&str] = &[
    "质量", "外观", "价格", "做工", "声音", "包装", "物流", "售后", "设计", "容量",
];
const SERVICE_ZH: &[&str] = &["回复很慢", "态度很好", "不理人", "处理很快", "给退款了"];
const CRISIS_ZH: &[&str] = &["召回", "爆炸", "起火", "漏电", "冒烟", "投诉"];
const CONNECTORS_ZH: &[&str] = &["总之", "不过", "而且", "然后", "但是", "其实", "说实话"];
const OTHER_BRANDS_ZH: &[&str] = &["英泰", "胡力", "雨伞牌", "万德莱"];

/// Which watched brands a post names: 0 Acme, 1 Globex, 2 both, 3 another maker.
fn pick_brand(rng: &mut Rng) -> u8 {
    match rng.unit() {
        roll if roll >= 0.8 => 3,
        roll if roll < 0.48 => 0,
        roll if roll < 0.76 => 1,
        _ => 2,
    }
}

fn english_text(rng: &mut Rng, brand: u8, negative: bool, crisis: bool) -> String {
    let target = 10 + (50.0 * rng.unit().powf(1.6)) as usize;
    let name = match brand {
        0 => "Acme",
        1 => "Globex",
        2 if rng.chance(0.5) => "Acme",
        2 => "Globex",
        _ => rng.pick(OTHER_BRANDS_EN),
    };
    let product = rng.pick(PRODUCTS_EN);
    let adjective = |rng: &mut Rng| {
        if negative ^ rng.chance(0.2) {
            rng.pick(NEGATIVE_EN)
        } else {
            rng.pick(POSITIVE_EN)
        }
    };
    let mut clauses = vec![match rng.below(4) {
        0 => format!(
            "{} {} the {name} {product} {}",
            rng.pick(PRONOUNS_EN),
            rng.pick(PAST_VERBS_EN),
            rng.pick(TIMES_EN)
        ),
        1 => format!(
            "the {name} {product} is {} {}",
            rng.pick(DEGREES_EN),
            adjective(rng)
        ),
        2 => format!("anyone else having trouble with the {name} {product}?"),
        _ => format!("my {name} {product} {}", rng.pick(ACTIONS_EN)),
    }];
    if brand == 2 {
        let other = if name == "Acme" { "Globex" } else { "Acme" };
        clauses.push(format!("compared it with the {other} {product}"));
    }
    if crisis {
        clauses.push(format!("heard about the {name} {}", rng.pick(CRISIS_EN)));
    }
    let mut words: usize = clauses.iter().map(|c| c.split(' ').count()).sum();
    while words < target {
        let clause = match rng.below(6) {
            0 | 1 => format!(
                "the {} is {} {}",
                rng.pick(ASPECTS_EN),
                rng.pick(DEGREES_EN),
                adjective(rng)
            ),
            2 => format!("it {}", rng.pick(ACTIONS_EN)),
            3 => rng.pick(IDIOMS_EN).to_string(),
            4 => format!("paid {} dollars for it", rng.between(15, 400)),
            _ => format!(
                "compared to my old {} {} it is {}",
                rng.pick(OTHER_BRANDS_EN),
                rng.pick(PRODUCTS_EN),
                adjective(rng)
            ),
        };
        words += clause.split(' ').count();
        clauses.push(clause);
    }
    let mut text = clauses.join(". ");
    text.push('.');
    text
}

fn chinese_text(rng: &mut Rng, brand: u8, negative: bool, crisis: bool) -> String {
    let target = 15 + (105.0 * rng.unit().powf(1.6)) as usize;
    let name = match brand {
        _ if rng.chance(0.05) => "Acme",
        0 => "艾克米",
        1 => "环球",
        2 if rng.chance(0.5) => "艾克米",
        2 => "环球",
        _ => rng.pick(OTHER_BRANDS_ZH),
    };
    let product = rng.pick(PRODUCTS_ZH);
    let adjective = |rng: &mut Rng| {
        if negative ^ rng.chance(0.15) {
            rng.pick(NEGATIVE_ZH)
        } else {
            rng.pick(POSITIVE_ZH)
        }
    };
    let mut clauses = vec![match rng.below(4) {
        0 => format!(
            "{}{}{}{name}{product}",
            rng.pick(TIMES_ZH),
            rng.pick(SUBJECTS_ZH),
            rng.pick(VERBS_ZH)
        ),
        1 => format!(
            "{name}的{product}{}{}",
            rng.pick(DEGREES_ZH),
            adjective(rng)
        ),
        2 => format!("有人用过{name}{product}吗"),
        _ => format!("{name}{product}用了{}天", rng.between(1, 300)),
    }];
    if brand == 2 {
        let other = if name == "艾克米" {
            "环球"
        } else {
            "艾克米"
        };
        clauses.push(format!("和{other}的比了一下"));
    }
    if crisis {
        clauses.push(format!("听说{name}{product}要{}了", rng.pick(CRISIS_ZH)));
    }
    let mut chars: usize = clauses.iter().map(|c| c.chars().count() + 1).sum();
    while chars < target {
        let clause = match rng.below(6) {
            0 | 1 => format!(
                "{}{}{}",
                rng.pick(ASPECTS_ZH),
                rng.pick(DEGREES_ZH),
                adjective(rng)
            ),
            2 => format!("客服{}", rng.pick(SERVICE_ZH)),
            3 => format!("用了{}天就坏了", rng.between(1, 90)),
            4 => format!(
                "{}{}{}{}",
                rng.pick(CONNECTORS_ZH),
                rng.pick(ASPECTS_ZH),
                rng.pick(DEGREES_ZH),
                adjective(rng)
            ),
            _ => format!("打{}折买的", rng.between(5, 9)),
        };
        chars += clause.chars().count() + 1;
        if chars > 119 {
            break;
        }
        clauses.push(clause);
    }
    let mut text = clauses.join("，");
    text.push('。');
    text
}

pub fn corpus_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap()
}

/// Post `seq` (1-based) of a corpus of `count`, times spread over 90 days in order.
pub fn generated_post(rng: &mut Rng, seq: u64, count: u64) -> StoredPost {
    let english = rng.chance(0.6);
    let brand = pick_brand(rng);
    let negative = rng.chance(0.4);
    let crisis = rng.chance(0.015);
    let text = if english {
        english_text(rng, brand, negative, crisis)
    } else {
        chinese_text(rng, brand, negative, crisis)
    };
    let brands: Vec<String> = match brand {
        0 => vec!["acme".into()],
        1 => vec!["globex".into()],
        2 => vec!["acme".into(), "globex".into()],
        _ => Vec::new(),
    };
    let published_at =
        corpus_start() + TimeDelta::seconds((seq as i64 * 90 * 86_400) / count.max(1) as i64);
    let id = format!("{seq:016x}");
    let lang = if english { "en" } else { "zh" };
    let (label, score) = if negative {
        (Label::Negative, -0.6)
    } else {
        (Label::Positive, 0.5)
    };
    StoredPost {
        seq: seq as i64,
        post: Post {
            id: id.clone(),
            source: "bench".to_string(),
            external_id: id.clone(),
            url: Some(format!(
                "https://{}/p/{id}",
                [
                    "www.reddit.com",
                    "twitter.com",
                    "weibo.com",
                    "www.zhihu.com"
                ][rng.below(4)]
            )),
            canonical_url: None,
            author: Some(format!("author_{}", rng.below(400))),
            title: None,
            text,
            lang: Some(lang.to_string()),
            published_at,
            brands,
            provenance: Provenance {
                fetched_at: published_at,
                fetch_url: "https://example.com/feed".to_string(),
                http_status: Some(200),
                content_hash: "00".to_string(),
                extraction: "bench".to_string(),
                raw_sha256: None,
            },
            sentiment: Some(Sentiment {
                label,
                score,
                confidence: 0.8,
                lang: lang.to_string(),
                backend: "lexicon".to_string(),
                version: "1".to_string(),
            }),
            engagement: Engagement::default(),
            duplicate_of: None,
        },
    }
}

/// `count` posts, seqs 1..=count.
pub fn generated_posts(count: u64, seed: u64) -> Vec<StoredPost> {
    let mut rng = Rng::new(seed);
    (1..=count)
        .map(|seq| generated_post(&mut rng, seq, count))
        .collect()
}
