"""Build an HF `tokenizer.json` + `tokenizer_config.json` equivalent to the llama2.c tok512
encoding: SentencePiece-style BPE with byte fallback, Llama normalizer (prepend ▁, spaces -> ▁),
merges ranked by the merged piece's llama2.c score, BOS added by the post-processor."""
import json

SPACE = "\u2581"  # ▁
SPECIAL = {0: "<unk>", 1: "<s>", 2: "</s>"}

# Renders chat `messages` into the HH-RLHF format the reward model was trained on:
# an optional system message first (as a plain paragraph), then "\n\nHuman: ..." /
# "\n\nAssistant: ..." turns. Used by the server for {messages} requests.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}"
    "{% elif message['role'] == 'user' %}{{ '\\n\\nHuman: ' + message['content'] }}"
    "{% elif message['role'] == 'assistant' %}{{ '\\n\\nAssistant: ' + message['content'] }}"
    "{% else %}{{ raise_exception('chat_template: role must be system, user or assistant') }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\n\\nAssistant:' }}{% endif %}"
)


def hf_piece(i, piece_bytes):
    """The HF vocabulary string of llama2.c piece i (spaces become ▁, specials renamed)."""
    if i in SPECIAL:
        return SPECIAL[i]
    return piece_bytes.decode("utf-8").replace(" ", SPACE)


def build_tokenizer_json(vocab):
    """Return the tokenizer.json dict for a llama2.c vocabulary [(piece bytes, score)]."""
    pieces = [hf_piece(i, p) for i, (p, _) in enumerate(vocab)]
    ids = {p: i for i, p in enumerate(pieces)}
    merges = []
    for i, piece in enumerate(pieces):
        if i < 259 or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in ids and right in ids and ids[left] >= 259 and ids[right] >= 259:
                merges.append((-vocab[i][1], cut, left, right))
    merges.sort()  # highest merged-piece score first; ties (same piece) by split point
    added = [
        {"id": i, "content": SPECIAL[i], "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i in sorted(SPECIAL)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": ids,
            "merges": [[left, right] for _, _, left, right in merges],
        },
    }


def build_tokenizer_config(max_length):
    """Return tokenizer_config.json: special tokens, right padding, max length, chat template."""
    return {
        "tokenizer_class": "LlamaTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "padding_side": "right",
        "truncation_side": "left",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }


def write_json(obj, path):
    """Write JSON with stable formatting (UTF-8, no ASCII escaping)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
