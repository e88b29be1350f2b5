"""Preference data: loading, the model-text formats (which the TypeScript eval reproduces byte
for byte), tokenization with the server's truncation rule, and the seeded train/validation/OOD
split written to splits.json."""
import gzip
import json
import os
import random

import llama2c

TLDR_FILE = "tldr/batch13.json"
HH_TRAIN_FILES = ["hh-rlhf/helpful-base/test.jsonl.gz"]
# Never trained on: the out-of-distribution split. Its responses come from rejection sampling
# with a stronger model (Bai et al. 2022), a shift in response distribution from the base-model
# answers of helpful-base/harmless-base.
OOD_FILES = ["hh-rlhf/helpful-rejection-sampled/test.jsonl.gz"]
# harmless-base is not used: its preferences (refuse, say less) pull against helpfulness, and
# with it in training this small model's validation accuracy fell from ~62 % to ~55 %.
TRAIN_FILES = [TLDR_FILE] + HH_TRAIN_FILES
VALIDATION_FRACTION = 0.25  # >= 800 validation pairs, for a tight confidence interval
SPLIT_SEED = 20240122  # the WARM paper's arXiv date


def read_rows(data_dir, rel):
    """All JSON rows of a data file (JSON Lines, gzipped when the name ends in .gz)."""
    path = os.path.join(data_dir, rel)
    opener = gzip.open if rel.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tldr_prompt(info):
    """TL;DR prompt: "SUBREDDIT: r/{subreddit}\\nTITLE: {title}\\nPOST: {post}\\n\\nTL;DR:"."""
    return f"SUBREDDIT: r/{info['subreddit']}\nTITLE: {info['title']}\nPOST: {info['post']}\n\nTL;DR:"


def tldr_completion(summary_text):
    """TL;DR completion: one space + the summary with its leading spaces removed (the stored
    summaries already start with one space; this keeps exactly one after "TL;DR:")."""
    return " " + summary_text.lstrip(" ")


def hh_split(text):
    """HH (prompt, completion): prompt = text up to and including the last "\\n\\nAssistant:"."""
    cut = text.rfind("\n\nAssistant:") + len("\n\nAssistant:")
    return text[:cut], text[cut:]


def to_pair(rel, row):
    """(chosen model text, rejected model text) for one row; model text = prompt + completion."""
    if rel == TLDR_FILE:
        prompt = tldr_prompt(row["info"])
        good = row["summaries"][row["choice"]]["text"]
        bad = row["summaries"][1 - row["choice"]]["text"]
        return prompt + tldr_completion(good), prompt + tldr_completion(bad)
    return "".join(hh_split(row["chosen"])), "".join(hh_split(row["rejected"]))


def is_identical(rel, row):
    """True when the two answers are the same (such pairs carry no preference and are dropped)."""
    if rel == TLDR_FILE:
        return row["summaries"][0]["text"] == row["summaries"][1]["text"]
    return row["chosen"] == row["rejected"]


def make_splits(data_dir):
    """Seeded split: each training file -> train/validation row indexes (same distribution);
    each OOD file -> ood row indexes. Identical pairs are left out of every split."""
    rng = random.Random(SPLIT_SEED)
    splits = {}
    for rel in TRAIN_FILES:
        rows = read_rows(data_dir, rel)
        keep = [i for i, r in enumerate(rows) if not is_identical(rel, r)]
        rng.shuffle(keep)
        n_val = round(len(keep) * VALIDATION_FRACTION)
        splits[rel] = {"train": sorted(keep[n_val:]), "validation": sorted(keep[:n_val])}
    for rel in OOD_FILES:
        rows = read_rows(data_dir, rel)
        splits[rel] = {"ood": [i for i, r in enumerate(rows) if not is_identical(rel, r)]}
    return splits


def truncate(ids, max_length):
    """Server rule: ids = BOS + text + EOS; if too long keep BOS and the last max_length-1 tokens
    (tokens right after BOS go first, so the prompt is cut from the left)."""
    if len(ids) <= max_length:
        return ids
    return ids[:1] + ids[len(ids) - (max_length - 1):]


def tokenize(encoder, text, max_length):
    """Token ids of a model text exactly as the server computes them (BOS, EOS, left truncation)."""
    return truncate(encoder.encode(text, bos=True, eos=True), max_length)


def load_split(data_dir, splits, split, encoder, max_length):
    """List of (chosen ids, rejected ids) for one split name across all files, file order."""
    pairs = []
    for rel, parts in splits.items():
        if split not in parts:
            continue
        rows = read_rows(data_dir, rel)
        for i in parts[split]:
            good, bad = to_pair(rel, rows[i])
            pairs.append((tokenize(encoder, good, max_length), tokenize(encoder, bad, max_length)))
    return pairs


if __name__ == "__main__":
    # python3 data.py [DATA_DIR]: (re)write splits.json next to this file
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data")
    with open(os.path.join(here, "splits.json"), "w") as f:
        json.dump(make_splits(data_dir), f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.join(here, 'splits.json')}")
