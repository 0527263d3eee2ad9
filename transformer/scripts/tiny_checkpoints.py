#!/usr/bin/env python3
"""Builds two tiny, randomly initialised Hugging Face sequence-classification
checkpoints (BERT and XLM-RoBERTa layouts, hidden size 16, two layers, a 40-word
WordPiece vocabulary) in transformer/tests/fixtures/, with the class probabilities
Hugging Face transformers computes for a few texts. The candle engine's checkpoint
loading is tested against them without any download.

Needs torch, transformers and tokenizers (`pip install torch==2.4.0 transformers==4.44.2`).
Run from the repository root:

    python3 transformer/scripts/tiny_checkpoints.py
"""

import json
import os

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

WORDS = (
    "the service was great terrible awful good bad not very phone battery app "
    "love hate it is ok and but delivery late fast ##s ##ed ##ly"
).split()

TEXTS = [
    "the service was great",
    "terrible app , not good",
    "",
    "the phone battery is ok but delivery was late and late and late",
    "unknownword love it !",
]


def tokenizer(special):
    """WordPiece over WORDS with BERT's normalizer and pre-tokenizer. `special` lists
    the special tokens in vocabulary order, keyed by role."""
    cls, sep, unk = special["cls"], special["sep"], special["unk"]
    vocab = {token: index for index, token in enumerate(special["order"])}
    for word in WORDS + [",", "!"]:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])],
    )
    return tok, vocab


def build(name, config_class, model_class, special, pad_id, extra):
    torch.manual_seed(20261123)
    tok, vocab = tokenizer(special)
    assert vocab[special["pad"]] == pad_id
    config = config_class(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=extra["max_position_embeddings"],
        type_vocab_size=extra["type_vocab_size"],
        pad_token_id=pad_id,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
        initializer_range=0.5,
    )
    model = model_class(config).eval()
    out = os.path.join(FIXTURES, name)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    probabilities = []
    token_counts = []
    with torch.no_grad():
        for text in TEXTS:
            encoding = tok.encode(text)
            ids = torch.tensor([encoding.ids])
            token_counts.append(len(encoding.ids))
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            probabilities.append([round(float(p), 7) for p in torch.softmax(logits, -1)[0]])
    return {"texts": TEXTS, "token_counts": token_counts, "probabilities": probabilities}


def main():
    reference = {
        "generator": "transformer/scripts/tiny_checkpoints.py",
        "versions": {"torch": torch.__version__},
        "tiny-bert-cls": build(
            "tiny-bert-cls",
            BertConfig,
            BertForSequenceClassification,
            {
                "order": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "unk": "[UNK]",
            },
            0,
            {"max_position_embeddings": 64, "type_vocab_size": 2},
        ),
        "tiny-xlmr-cls": build(
            "tiny-xlmr-cls",
            XLMRobertaConfig,
            XLMRobertaForSequenceClassification,
            # XLM-R's own order: <s> 0, <pad> 1, </s> 2, <unk> 3.
            {
                "order": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                "cls": "<s>", "sep": "</s>", "pad": "<pad>", "unk": "<unk>",
            },
            1,
            {"max_position_embeddings": 66, "type_vocab_size": 1},
        ),
    }
    with open(os.path.join(FIXTURES, "tiny_checkpoints_reference.json"), "w") as out:
        json.dump(reference, out, indent=1)
        out.write("\n")
    print("wrote tiny-bert-cls/, tiny-xlmr-cls/ and tiny_checkpoints_reference.json")


if __name__ == "__main__":
    main()
