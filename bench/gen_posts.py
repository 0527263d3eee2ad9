#!/usr/bin/env python3
"""Writes N generated JSON Lines posts (mixed English/Chinese, realistic lengths) for
`vigil import` benchmarks. Deterministic: the same N gives the same file.

    python3 bench/gen_posts.py 1000000 > /tmp/posts.jsonl
"""
import json
import random
import sys
from datetime import datetime, timedelta, timezone

EN_OPENERS = ["Just got my", "Thinking about buying the", "Anyone else having trouble with the",
              "Really impressed by the", "Returned my", "Can't believe how loud the",
              "Three weeks with the", "Unboxing the new"]
EN_PRODUCTS = ["Acme kettle", "Acme toaster", "Acme blender", "Globex kettle", "Initech mixer"]
EN_TAILS = ["works great and looks nice on the counter.", "stopped working after a week, very disappointed.",
            "is fine for the price, nothing special.", "boils water in two minutes, love it!",
            "customer service was slow to answer my email.", "has a lid that sticks, annoying but usable.",
            "is the best purchase I made this year.", "smells of plastic, not happy."]
ZH_SUBJECTS = ["艾克米水壶", "艾克米烤面包机", "环球电水壶", "这个牌子的搅拌机"]
ZH_TAILS = ["烧水很快，很满意", "用了一周就坏了，太失望了", "价格还行，一般般", "颜值很高，推荐购买",
            "客服回复太慢了", "盖子有点紧，不过还能用", "今年买过最好的东西", "有塑料味，不开心"]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = sys.stdout
    for i in range(count):
        at = start + timedelta(seconds=i * 30 + rng.randrange(30))
        if rng.random() < 0.6:
            text = f"{rng.choice(EN_OPENERS)} {rng.choice(EN_PRODUCTS)}: it {rng.choice(EN_TAILS)}"
            if rng.random() < 0.3:
                text += " " + rng.choice(EN_TAILS).capitalize()
            lang = "en"
        else:
            text = f"{rng.choice(ZH_SUBJECTS)}{rng.choice(ZH_TAILS)}"
            if rng.random() < 0.3:
                text += "，" + rng.choice(ZH_TAILS)
            lang = "zh"
        post = {"id": str(i), "url": f"https://example.com/p/{i}?utm_source=bench",
                "author": f"user{rng.randrange(50_000)}", "published_at": at.isoformat().replace("+00:00", "Z"),
                "text": text, "lang": lang}
        out.write(json.dumps(post, ensure_ascii=False))
        out.write("\n")


if __name__ == "__main__":
    main()
