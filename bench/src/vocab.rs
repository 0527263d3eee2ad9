//! Word lists the corpus generator draws from, most frequent first: the generator picks
//! from each list with a Zipf-like distribution (rank r weighs 1 / r), so the first
//! entries are common and the tail is rare, as in real text.
//!
//! The lists are part of the corpus format: changing them changes every generated file,
//! so bump [`crate::corpus::GENERATOR_VERSION`] with them.

/// Brands the benchmark config (`bench/vigil.toml`) watches, as they appear in text.
pub const ACME: &str = "Acme";
pub const GLOBEX: &str = "Globex";
pub const ACME_ZH: &str = "艾克米";
pub const GLOBEX_ZH: &str = "环球";

/// Other makers, mentioned by the posts that match no watched brand.
pub const OTHER_BRANDS_EN: &[&str] = &["Initech", "Hooli", "Umbrella", "Vandelay", "Soylent"];
pub const OTHER_BRANDS_ZH: &[&str] = &["英泰", "胡力", "雨伞牌", "万德莱"];

pub const PRODUCTS_EN: &[&str] = &[
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
    "iron",
    "humidifier",
    "water filter",
    "oven",
    "scale",
    "food processor",
    "dehumidifier",
];

pub const PRONOUNS_EN: &[&str] = &[
    "I",
    "we",
    "my wife",
    "my husband",
    "my mom",
    "my dad",
    "my friend",
    "my roommate",
    "my sister",
    "my brother",
    "our neighbor",
    "my boss",
    "my kid",
];

pub const PAST_VERBS_EN: &[&str] = &[
    "bought",
    "got",
    "ordered",
    "returned",
    "tried",
    "used",
    "replaced",
    "picked up",
    "received",
    "upgraded to",
    "switched to",
    "unboxed",
    "tested",
    "gifted",
    "reviewed",
    "compared",
    "cleaned",
    "descaled",
    "repaired",
    "sold",
];

pub const TIMES_EN: &[&str] = &[
    "yesterday",
    "last week",
    "today",
    "this morning",
    "last month",
    "on Monday",
    "over the weekend",
    "two days ago",
    "last night",
    "in March",
    "before Christmas",
    "on Black Friday",
    "after work",
    "at lunch",
    "this afternoon",
];

pub const POSITIVE_EN: &[&str] = &[
    "great",
    "good",
    "excellent",
    "amazing",
    "perfect",
    "nice",
    "solid",
    "reliable",
    "quiet",
    "fast",
    "sturdy",
    "beautiful",
    "sleek",
    "handy",
    "awesome",
    "lovely",
    "brilliant",
    "fantastic",
    "impressive",
    "flawless",
];

pub const NEGATIVE_EN: &[&str] = &[
    "bad",
    "terrible",
    "awful",
    "broken",
    "cheap",
    "flimsy",
    "loud",
    "slow",
    "useless",
    "disappointing",
    "faulty",
    "horrible",
    "poor",
    "defective",
    "annoying",
    "leaky",
    "overpriced",
    "noisy",
    "wobbly",
    "unreliable",
];

pub const NEUTRAL_EN: &[&str] = &[
    "new", "old", "small", "big", "white", "black", "second", "first", "other", "same", "simple",
    "basic", "standard", "usual", "silver", "red", "compact", "heavy", "tall", "plain",
];

pub const DEGREES_EN: &[&str] = &[
    "really",
    "very",
    "so",
    "pretty",
    "quite",
    "super",
    "totally",
    "honestly",
    "surprisingly",
    "incredibly",
    "a bit",
    "kind of",
    "seriously",
    "absolutely",
    "fairly",
];

/// Parts and aspects a post talks about.
pub const ASPECTS_EN: &[&str] = &[
    "price",
    "lid",
    "handle",
    "design",
    "quality",
    "button",
    "base",
    "cord",
    "noise",
    "delivery",
    "warranty",
    "packaging",
    "manual",
    "plug",
    "switch",
    "light",
    "timer",
    "filter",
    "display",
    "motor",
    "blade",
    "seal",
    "spout",
    "finish",
    "color",
    "size",
    "smell",
    "temperature",
    "app",
    "battery",
    "gasket",
    "thermostat",
    "hinge",
    "latch",
    "carafe",
];

pub const PLACES_EN: &[&str] = &[
    "kitchen",
    "office",
    "counter",
    "apartment",
    "dorm",
    "cabin",
    "studio",
    "garage",
    "break room",
    "camper",
];

pub const ACTIONS_EN: &[&str] = &[
    "boils water",
    "makes coffee",
    "heats up",
    "shuts off",
    "cleans easily",
    "fits the counter",
    "runs all day",
    "takes forever",
    "gets hot",
    "beeps constantly",
    "smells like plastic",
    "rattles",
    "drips everywhere",
    "trips the breaker",
    "crushes ice",
    "toasts evenly",
    "keeps the heat",
    "needs descaling",
    "wakes the baby",
    "pairs with the app",
];

/// Multi-word expressions real reviews repeat; several are the benchmark's phrase queries.
pub const IDIOMS_EN: &[&str] = &[
    "customer service",
    "stopped working",
    "highly recommend",
    "waste of money",
    "worth every penny",
    "out of the box",
    "five stars",
    "one star",
    "would buy again",
    "never again",
    "fell apart",
    "good value",
    "on sale",
    "as advertised",
    "money back",
    "battery life",
    "build quality",
    "free shipping",
    "return policy",
    "brand new",
];

pub const SERVICE_EN: &[&str] = &[
    "support never answered my email",
    "the refund took three weeks",
    "they sent a replacement right away",
    "the store would not take it back",
    "the warranty claim was easy",
    "shipping was quick",
    "the courier left it in the rain",
    "support asked for a video",
    "the chat agent was helpful",
    "they blamed the power supply",
];

/// Crisis vocabulary: rare on purpose, as in real monitoring data.
pub const CRISIS_EN: &[&str] = &[
    "recall",
    "fire",
    "smoke",
    "sparks",
    "shock",
    "burned",
    "lawsuit",
    "explosion",
    "exploded",
    "hazard",
    "melted",
    "injury",
];

pub const CONNECTORS_EN: &[&str] = &[
    "and", "but", "so", "also", "then", "honestly", "anyway", "plus", "although", "still",
];

pub const CLOSERS_EN: &[&str] = &[
    "lol",
    "ugh",
    "sigh",
    "wow",
    "yikes",
    "meh",
    "nice",
    "oh well",
    "fingers crossed",
    "thanks",
];

pub const SUBJECTS_ZH: &[&str] = &[
    "我",
    "我们",
    "老公",
    "老婆",
    "妈妈",
    "朋友",
    "同事",
    "室友",
    "邻居",
    "家里人",
    "闺蜜",
    "爸爸",
];

pub const TIMES_ZH: &[&str] = &[
    "今天",
    "昨天",
    "上周",
    "前几天",
    "刚刚",
    "这个月",
    "去年",
    "周末",
    "早上",
    "晚上",
    "双十一",
    "春节前",
];

pub const VERBS_ZH: &[&str] = &[
    "买了",
    "用了",
    "收到了",
    "试了",
    "换了",
    "退了",
    "订了",
    "入手了",
    "拆开了",
    "修了",
];

pub const PRODUCTS_ZH: &[&str] = &[
    "水壶",
    "电水壶",
    "烤面包机",
    "搅拌机",
    "咖啡机",
    "电饭煲",
    "微波炉",
    "吸尘器",
    "空气炸锅",
    "榨汁机",
    "电风扇",
    "取暖器",
    "加湿器",
    "净水器",
    "料理机",
];

pub const DEGREES_ZH: &[&str] = &[
    "非常", "很", "特别", "真的", "有点", "太", "超级", "比较", "挺", "相当",
];

pub const POSITIVE_ZH: &[&str] = &[
    "好用", "满意", "喜欢", "方便", "漂亮", "安静", "结实", "划算", "不错", "靠谱", "省心", "实用",
];

pub const NEGATIVE_ZH: &[&str] = &[
    "失望", "难用", "吵", "差劲", "垃圾", "后悔", "麻烦", "生气", "糟糕", "离谱", "坑", "无语",
];

pub const ASPECTS_ZH: &[&str] = &[
    "质量",
    "外观",
    "价格",
    "做工",
    "声音",
    "包装",
    "物流",
    "售后",
    "味道",
    "设计",
    "手感",
    "颜色",
    "容量",
    "功率",
    "说明书",
];

pub const SERVICE_ZH: &[&str] = &[
    "回复很慢",
    "态度很好",
    "不理人",
    "处理很快",
    "一直推脱",
    "给退款了",
    "让我等三天",
    "说要返厂",
    "直接换新",
    "要我自己寄回去",
];

/// Crisis vocabulary, rare on purpose.
pub const CRISIS_ZH: &[&str] = &[
    "召回",
    "爆炸",
    "起火",
    "漏电",
    "冒烟",
    "烫伤",
    "投诉",
    "维权",
    "安全隐患",
    "自燃",
];

pub const CONNECTORS_ZH: &[&str] = &[
    "总之",
    "不过",
    "而且",
    "然后",
    "但是",
    "所以",
    "其实",
    "反正",
    "说实话",
    "感觉",
];

pub const CLOSERS_ZH: &[&str] = &["哈哈", "唉", "呵呵", "服了", "绝了", "真香", "求助", "打卡"];

/// English first parts of author handles.
pub const HANDLE_WORDS_EN: &[&str] = &[
    "kitchen", "coffee", "tea", "home", "daily", "urban", "quiet", "happy", "tech", "retro",
    "budget", "smart", "night", "sunny", "busy", "lazy",
];

/// Chinese first parts of author handles.
pub const HANDLE_WORDS_ZH: &[&str] = &[
    "小明", "阿花", "老王", "大白", "橙子", "晴天", "奶茶", "豆豆", "小鱼", "阿杰",
];

/// Sites posts come from: English sites first, then Chinese ones (see [`SITES_EN`]).
pub const SITES_EN: &[&str] = &[
    "www.reddit.com",
    "twitter.com",
    "www.amazon.com",
    "www.youtube.com",
    "www.facebook.com",
    "forums.kitchentalk.example",
    "www.trustpilot.com",
    "www.bestbuy.com",
    "www.walmart.com",
    "news.ycombinator.com",
    "www.consumerreports.org",
    "www.theverge.com",
    "www.cnet.com",
    "mastodon.social",
    "www.target.com",
    "www.yelp.com",
    "community.homechef.example",
    "blog.applianceguy.example",
    "www.tiktok.com",
    "www.instagram.com",
    "medium.com",
    "www.quora.com",
    "www.ebay.com",
    "www.costco.com",
    "www.wirecutter.example",
    "bsky.app",
    "www.threads.net",
    "discord.example",
    "www.slickdeals.net",
    "www.bbc.co.uk",
];

pub const SITES_ZH: &[&str] = &[
    "weibo.com",
    "www.zhihu.com",
    "www.douban.com",
    "tieba.baidu.com",
    "item.jd.com",
    "detail.tmall.com",
    "www.xiaohongshu.com",
    "www.bilibili.com",
    "www.douyin.com",
    "www.smzdm.com",
    "bbs.hupu.com",
    "www.toutiao.com",
    "mp.weixin.qq.com",
    "news.sina.com.cn",
    "www.163.com",
    "www.thepaper.cn",
    "www.ithome.com",
    "www.dianping.com",
    "www.kuaishou.com",
    "club.autohome.com.cn",
];
