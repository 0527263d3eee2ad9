//! The bundled demo scenario, written for Vigil: a week of ordinary chatter about a
//! sample brand (Acme, 艾克米, maker of kettles) in English and Chinese, then a crisis
//! burst — kettles exploding — in both languages. Times are laid out relative to the
//! moment the demo starts, so the crisis always lands in the alert window.

use chrono::{DateTime, Duration, Utc};

/// Which feed an item is published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// English social posts, RSS 2.0, UTF-8.
    Social,
    /// Chinese Weibo-style posts (RSSHub route shape), RSS 2.0 encoded in GBK.
    Weibo,
    /// English reviews, Atom 1.0.
    Reviews,
}

impl Feed {
    pub fn slug(self) -> &'static str {
        match self {
            Feed::Social => "social",
            Feed::Weibo => "weibo",
            Feed::Reviews => "reviews",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScenarioPost {
    pub feed: Feed,
    pub number: usize,
    pub author: String,
    pub title: String,
    pub text: String,
    pub published_at: DateTime<Utc>,
    /// Part of the crisis burst (published only once the crisis phase starts).
    pub crisis: bool,
}

const ORDINARY_EN: &[&str] = &[
    "Just made my morning tea with the Acme kettle, boils in two minutes. Love it!",
    "Acme kettle arrived today, packaging was fine and setup took a minute.",
    "Does anyone know if the Acme kettle comes in white?",
    "The Acme toaster is decent for the price.",
    "Comparing Acme with two other kettle brands for our new kitchen.",
    "Acme customer service replied quickly and replaced my lid. Great support!",
    "The Acme kettle is a bit loud but it works.",
    "Acme announced a new colour range for spring.",
    "Two years with my Acme kettle and it still works perfectly.",
    "Picked up an Acme kettle on sale, happy with it so far.",
];

const ORDINARY_ZH: &[&str] = &[
    "艾克米水壶烧水很快，很满意",
    "刚买了艾克米的电水壶，颜值很高，推荐",
    "艾克米水壶有点吵，不过还可以",
    "有人用过艾克米的烤面包机吗？",
    "艾克米客服态度很好，换货很快",
    "艾克米新出的配色挺好看的",
    "用了半年艾克米水壶，没出过问题，好用",
];

const REVIEWS_EN: &[&str] = &[
    "Solid kettle. The Acme boils fast and the handle stays cool. Four stars.",
    "Acme kettle looks great on the counter; the lid is a little stiff.",
    "Good value from Acme, would recommend to a friend.",
    "Acme kettle: quiet enough, pours cleanly, no complaints.",
];

const UNRELATED: &[&str] = &[
    "Weather is lovely today, going for a walk.",
    "今天天气不错，出去走走",
    "Anyone watching the match tonight?",
];

const CRISIS_EN: &[&str] = &[
    "My Acme kettle EXPLODED this morning and burned my hand. Dangerous product, avoid!",
    "Acme kettle caught fire on the counter. Terrible. Is there a recall?",
    "Another report of an Acme kettle exploding. Acme needs to issue a recall now.",
    "Acme kettle base melted and sparked, scary and awful experience.",
    "Shocked: Acme kettle blew up next to my kid. Never buying Acme again.",
    "Lawsuit incoming? Acme kettle explosions all over my feed, horrible.",
    "Unplugged my Acme kettle after seeing these explosion videos. Disgusted that Acme says nothing.",
];

const CRISIS_ZH: &[&str] = &[
    "艾克米水壶爆炸了，太危险了！手都烫伤了",
    "艾克米电水壶突然起火，吓死了，质量太差",
    "求艾克米召回水壶！已经好几起爆炸了",
    "艾克米水壶底座冒烟，差点着火，垃圾产品",
    "再也不买艾克米了，水壶炸了，客服还不理人，太失望",
];

const CRISIS_REVIEWS: &[&str] = &[
    "One star. My Acme kettle exploded on first use. Dangerous, returned it.",
    "Avoid Acme kettles: mine overheated and cracked, hot water everywhere. Awful.",
];

const HANDLES_EN: &[&str] = &[
    "@tea_lover",
    "@kitchenjen",
    "@dave_h",
    "@mira.k",
    "@brewmaster",
    "@sam_in_leeds",
    "@homecook22",
    "@oliviap",
];
const HANDLES_ZH: &[&str] = &[
    "@小王爱喝茶",
    "@厨房达人",
    "@北京李先生",
    "@上海小美",
    "@广州阿强",
    "@杭州生活家",
];
const CITIES: &[&str] = &[
    "London", "Leeds", "Boston", "Dublin", "Toronto", "Sydney", "Austin", "Cardiff",
];
const CITIES_ZH: &[&str] = &["北京", "上海", "广州", "深圳", "杭州", "成都"];

/// Small deterministic generator: the scenario is the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Builds the scenario around `start`: history over the 7 days before `start - 1h`, and
/// the crisis burst over the 40 minutes before `start + crisis_delay`.
pub fn build(start: DateTime<Utc>, crisis_delay: Duration) -> Vec<ScenarioPost> {
    let mut rng = Lcg(20_240_501);
    let mut posts = Vec::new();
    let mut counters = [0usize; 3];
    let mut push = |posts: &mut Vec<ScenarioPost>,
                    feed: Feed,
                    author: &str,
                    text: String,
                    at: DateTime<Utc>,
                    crisis: bool| {
        let counter = &mut counters[feed as usize];
        *counter += 1;
        let title = vigil_core::text::truncate_chars(&text, 40);
        posts.push(ScenarioPost {
            feed,
            number: *counter,
            author: author.to_string(),
            title,
            text,
            published_at: at,
            crisis,
        });
    };
    // History: roughly two mentions an hour, a bit busier in the day.
    let history_end = start - Duration::hours(1);
    let mut at = history_end - Duration::days(7);
    loop {
        let hour = at.format("%H").to_string().parse::<u32>().unwrap_or(12);
        let busy = (8..22).contains(&hour);
        let step_minutes = if busy {
            20 + rng.next() % 25
        } else {
            45 + rng.next() % 60
        };
        at += Duration::minutes(step_minutes as i64);
        if at >= history_end {
            break;
        }
        let roll = rng.next() % 10;
        let (feed, author, text) = match roll {
            0..=4 => (
                Feed::Social,
                rng.pick(HANDLES_EN),
                format!("{} ({})", rng.pick(ORDINARY_EN), rng.pick(CITIES)),
            ),
            5..=7 => (
                Feed::Weibo,
                rng.pick(HANDLES_ZH),
                format!("{}（{}）", rng.pick(ORDINARY_ZH), rng.pick(CITIES_ZH)),
            ),
            8 => (
                Feed::Reviews,
                rng.pick(HANDLES_EN),
                rng.pick(REVIEWS_EN).to_string(),
            ),
            _ => (
                Feed::Social,
                rng.pick(HANDLES_EN),
                rng.pick(UNRELATED).to_string(),
            ),
        };
        push(&mut posts, feed, author, text, at, false);
    }
    // The crisis: about fifty posts in forty minutes, in both languages.
    let crisis_end = start + crisis_delay;
    for i in 0..52 {
        let at = crisis_end - Duration::seconds(40 * 60 - i * 46);
        let (feed, author, text) = match i % 8 {
            0..=3 => (
                Feed::Social,
                rng.pick(HANDLES_EN),
                format!("{} ({})", rng.pick(CRISIS_EN), rng.pick(CITIES)),
            ),
            4..=6 => (
                Feed::Weibo,
                rng.pick(HANDLES_ZH),
                format!("{}（{}）", rng.pick(CRISIS_ZH), rng.pick(CITIES_ZH)),
            ),
            _ => (
                Feed::Reviews,
                rng.pick(HANDLES_EN),
                rng.pick(CRISIS_REVIEWS).to_string(),
            ),
        };
        push(&mut posts, feed, author, text, at, true);
    }
    posts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_shape() {
        let start = Utc::now();
        let posts = build(start, Duration::seconds(8));
        let crisis: Vec<_> = posts.iter().filter(|p| p.crisis).collect();
        let history: Vec<_> = posts.iter().filter(|p| !p.crisis).collect();
        assert_eq!(crisis.len(), 52);
        assert!(history.len() > 200, "a week of chatter: {}", history.len());
        assert!(
            history
                .iter()
                .all(|p| p.published_at < start - Duration::hours(1))
        );
        assert!(
            crisis
                .iter()
                .all(|p| p.published_at > start - Duration::hours(1))
        );
        assert!(crisis.iter().any(|p| p.feed == Feed::Weibo));
        // Deterministic.
        let again = build(start, Duration::seconds(8));
        assert_eq!(
            posts.iter().map(|p| &p.text).collect::<Vec<_>>(),
            again.iter().map(|p| &p.text).collect::<Vec<_>>()
        );
    }
}
