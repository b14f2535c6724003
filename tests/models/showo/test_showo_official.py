"""unigap's Show-o / MAGVIT-v2 against fixtures the *official* showlab/Show-o code wrote
(tools/official/showo/make_fixtures.py; commit in tests/fixtures/official/showo/manifest.json).

The tiny checkpoint there was written by the official `save_pretrained`; every expectation below
is an output of the official code on it (or, for the published sizes, of the official classes on
the meta device / the official prompting on a GPT-2 BPE stand-in for Phi-1.5's tokenizer).
Tolerances: token ids, codes, masks, schedules and sampled tokens exact; float32 logits and
probabilities to 2e-5 absolute (two attention kernels, same weights); pixels to 1e-5.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from unigap.errors import CheckpointError
from unigap.models.base import SamplingConfig
from unigap.models.showo import sampling as showo_sampling
from unigap.models.showo.checkpoint import build_model
from unigap.models.showo.loading import SHOWO_KEYMAP, VQ_KEYMAP, map_keys
from unigap.models.showo.magvit import MagvitDims
from unigap.models.showo.model import PHI_1_5, attn_mask, mmu_mask, t2i_mask
from unigap.models.showo.prompting import Layout, add_special_tokens
from unigap.models.showo.sampling import mask_lengths, temperatures
from unigap.models.showo.text import greedy, mmu_batch

from .conftest import load
from .official_keys import magvit_keys, showo_keys

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "official" / "showo"
ATOL = 2e-5


@pytest.fixture(scope="module")
def cases() -> dict:
    return json.loads((FIX / "cases.json").read_text())


@pytest.fixture(scope="module")
def arrays() -> dict:
    return load_file(str(FIX / "arrays.safetensors"))


@pytest.fixture(scope="module")
def official(cases):
    """The official tiny checkpoint through unigap's real loader (fp32)."""
    return load(FIX / "tiny", max_text_len=cases["max_text_len"], steps=6)


def _keys() -> dict:
    return json.loads((FIX / "keys.json").read_text())


# --- loading and key names ----------------------------------------------------------------
def test_the_official_checkpoint_loads_strictly_with_every_weight(official):
    showo = load_file(str(FIX / "tiny" / "pytorch_model.safetensors"))
    vq = load_file(str(FIX / "tiny" / "vq" / "pytorch_model.safetensors"))
    ours = official.model.state_dict()
    file = map_keys(showo, SHOWO_KEYMAP) | map_keys(vq, VQ_KEYMAP)
    assert set(ours) == set(file)
    assert all(torch.equal(ours[k], v.to(ours[k].dtype)) for k, v in file.items())
    assert "llm.model.layers.1.self_attn.q_layernorm.bias" in ours


def test_key_list_matches_the_official_classes_at_tiny_and_published_dims():
    keys = _keys()
    tiny = keys["tiny"]
    d = tiny["vq_dims"]
    assert sorted(showo_keys(layers=2)) == sorted(tiny["showo"])
    assert sorted(magvit_keys(d["ch"], d["enc_mult"], d["enc_blocks"], d["dec_mult"], d["dec_blocks"])) == sorted(
        tiny["magvitv2"]
    )
    pub = keys["published"]
    assert sorted(showo_keys(layers=24)) == sorted(pub["show-o"]["keys"])
    assert pub["show-o-512x512"].get("keys_same_as") == "show-o"
    dims = MagvitDims()
    assert sorted(magvit_keys(dims.ch, dims.enc_mult, dims.enc_blocks, dims.dec_mult, dims.dec_blocks)) == sorted(
        pub["magvitv2"]["keys"]
    )


@pytest.mark.parametrize("name", ["show-o", "show-o-512x512"])
def test_our_model_at_published_dims_has_the_official_names_and_shapes(name):
    pub = _keys()["published"]
    cfg = pub[name]["config"]
    assert cfg["vocab_size"] == 58498 and cfg["llm_vocab_size"] == 50295 and not cfg["w_clip_vit"]
    with torch.device("meta"):
        model = build_model(dict(PHI_1_5), cfg["vocab_size"], MagvitDims(), meta=True)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    official = map_keys(pub["show-o"]["keys"], SHOWO_KEYMAP) | map_keys(pub["magvitv2"]["keys"], VQ_KEYMAP)
    assert ours == official


def _strip_qk_norm(src: Path, dst: Path) -> list[str]:
    shutil.copytree(src, dst)
    state = load_file(str(dst / "pytorch_model.safetensors"))
    gone = sorted(k for k in state if "_layernorm" in k and ".self_attn." in k)
    save_file({k: v for k, v in state.items() if k not in gone}, str(dst / "pytorch_model.safetensors"))
    return gone


def test_a_checkpoint_without_qk_layernorm_is_refused_with_the_fix(cases, tmp_path):
    gone = _strip_qk_norm(FIX / "tiny", tmp_path / "old")
    assert len(gone) == 8  # 2 layers x {q,k}_layernorm x {weight, bias}
    with pytest.raises(CheckpointError) as err:
        load(tmp_path / "old", max_text_len=cases["max_text_len"])
    msg = str(err.value)
    assert "8 QK-LayerNorm key(s) missing" in msg and "showo.model.layers.0.self_attn.q_layernorm.weight" in msg
    assert "unigap model synthetic showo" in msg


# --- layouts and masks ----------------------------------------------------------------------
def test_token_ids_of_the_special_tokens(official, cases):
    lay = official.layout
    for token, want in cases["specials"].items():
        if token in ("<|sot|>", "<|eot|>"):
            assert (lay.bos if token == "<|sot|>" else lay.eos) == want
        elif token == "<|pad|>":
            assert lay.pad == want
        else:
            assert lay.tid(token) == want, token


def test_t2i_rows_and_attention_mask(official, cases):
    c, lay = cases["t2i"], official.layout
    image = torch.tensor(c["image"])
    rows = lay.t2i_rows(c["prompts"], image)
    assert rows.tolist() == c["ids"]
    allowed = t2i_mask(rows, lay.pad, lay.tid("<|soi|>"), lay.tid("<|eoi|>"))
    assert allowed.int().tolist() == c["allowed"]


def test_t2i_logits(official, cases, arrays):
    c, lay = cases["t2i"], official.layout
    rows = torch.tensor(c["ids"])
    mask = attn_mask(t2i_mask(rows, lay.pad, lay.tid("<|soi|>"), lay.tid("<|eoi|>")))
    with torch.no_grad():
        logits = official.model.llm.lm_head(official.model.hidden(rows, mask))
    want = arrays["t2i.logits"]
    assert (logits - want).abs().max() < ATOL
    assert torch.equal(logits.argmax(-1), want.argmax(-1))


def test_mmu_prompt_mask_logits_and_greedy_answer(official, cases, arrays):
    c, lay = cases["mmu"], official.layout
    row = lay.mmu_prefix(c["codes"][0], c["question"])
    assert [row] == c["ids"]
    b = mmu_batch([row], lay.pad, official.num_image_tokens, torch.float32, torch.device("cpu"))
    assert b.mask[:, 0].int().tolist() == c["allowed"]
    assert mmu_mask(b.valid, torch.tensor([official.num_image_tokens + 2])).int().tolist() == c["allowed"]
    with torch.no_grad():
        logits = official.model.llm.lm_head(official.model.hidden(b.ids, b.mask, b.positions))
    assert (logits - arrays["mmu.logits"]).abs().max() < ATOL
    answer = greedy(official.model, b, c["max_new_tokens"], lay.eos)[0]
    want = c["answer"][:-1] if c["answer"][-1:] == [lay.eos] else c["answer"]
    assert answer == want
    longer = lay.mmu_prefix(c["codes"][0], c["question"] + " What color is the circle ?")
    batch = mmu_batch([longer, row], lay.pad, official.num_image_tokens, torch.float32, torch.device("cpu"))
    assert greedy(official.model, batch, c["max_new_tokens"], lay.eos)[1] == want  # left-padded in a batch


# --- MAGVIT-v2 -----------------------------------------------------------------------------
def test_magvit_codes_and_pixels(official, cases, arrays):
    c = cases["magvit"]
    image = torch.tensor(c["image"], dtype=torch.uint8)[None]  # (1, H, W, 3)
    assert official.encode(image).tolist() == c["codes"]
    codes = torch.tensor(c["codes"])
    with torch.no_grad():
        pixels = official.model.vq.decode(codes)
    assert (pixels - arrays["magvit.pixels"]).abs().max() < 1e-5
    assert official.decode(codes).tolist() == c["uint8"]


# --- parallel decoding ---------------------------------------------------------------------
def test_mask_schedule_and_temperatures_at_the_published_sizes(cases):
    for s in cases["schedule"]:
        assert mask_lengths(s["m"], s["steps"]) == s["mask_len"], (s["m"], s["steps"])
        assert temperatures(1.0, s["steps"]) == pytest.approx(s["temperatures"], abs=1e-12)


def _replay(c: dict, arrays: dict, tag: str):
    """Gumbel noise that makes our draws the official ones: at step s the sampling noise is 0 at the
    code torch.multinomial drew and -inf elsewhere; the confidence noise is the official Gumbel draw."""
    calls = {"n": 0}

    def gumbel(shape, gens, device):
        s, kind = divmod(calls["n"], 2)
        calls["n"] += 1
        if kind == 0:  # (M, K): the sampling draw
            sampled = torch.tensor(c["sampled"][s])  # (B, M)
            noise = torch.full((len(gens), *shape), float("-inf"))
            return noise.scatter(-1, sampled[..., None], 0.0)
        return arrays[f"{tag}.gumbel"][s]  # (B, M): the confidence noise

    return gumbel


@pytest.mark.parametrize("tag", ["generate_cfg", "generate_nocfg"])
def test_t2i_generate_replayed_gives_the_official_tokens(official, cases, arrays, monkeypatch, tag):
    c = cases[tag]
    states, guided = [], []
    hidden, guide = official.model.hidden, showo_sampling.guide

    def spy_hidden(ids, mask, *a):
        states.append(ids[: len(c["prompts"]), official.layout.image_slice()].tolist())
        return hidden(ids, mask, *a)

    def spy_guide(cond, uncond, g):
        guided.append(guide(cond, uncond, g))
        return guided[-1]

    monkeypatch.setattr(showo_sampling, "gumbel", _replay(c, arrays, tag))
    monkeypatch.setattr("unigap.models.showo.backend.guide", spy_guide)
    monkeypatch.setattr(official.model, "hidden", spy_hidden)
    monkeypatch.setattr(official, "steps", c["steps"])
    tokens = official.generate_tokens(c["prompts"], [0, 1], SamplingConfig(cfg_scale=c["guidance"], temperature=1.0))
    assert states == c["states"]
    assert tokens.tolist() == c["tokens"]
    if c["guidance"] > 0:
        probs = torch.stack(guided).softmax(-1)  # (S, B, M, K)
        assert (probs - arrays[f"{tag}.probs"]).abs().max() < ATOL


# --- training objective --------------------------------------------------------------------
def test_sft_loss_is_the_official_loss_t2i(official, cases):
    c = cases["loss"]
    from unigap.models.showo.backend import schedule_masks

    g = torch.Generator().manual_seed(c["seed"])
    masked = schedule_masks(len(c["prompts"]), len(c["codes"][0]), g)
    dropped = (torch.rand(len(c["prompts"]), generator=g) < c["cond_dropout"]).int()
    assert masked.int().tolist() == c["masked"] and dropped.tolist() == c["dropped"]  # same draws, same order
    loss = official.image_loss(
        c["prompts"], torch.tensor(c["codes"]), generator=torch.Generator().manual_seed(c["seed"])
    )
    assert abs(loss.item() - c["loss_t2i"]) < 1e-5


# --- published sizes: Phi-1.5 token ids (GPT-2 BPE stand-in, replayed) --------------------------
class ReplayTokenizer:
    """The official tokenizer calls recorded by the fixture generator, replayed: unigap's layouts must
    ask for exactly those texts and place the ids as the official UniversalPrompting does."""

    def __init__(self, calls: dict[str, list[int]]) -> None:
        self.calls, self.vocab = calls, {"<|endoftext|>": 50256}
        self.bos_token_id = self.eos_token_id = self.unk_token_id = 50256
        self.pad_token = None

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": list(self.calls[text])}

    def __len__(self) -> int:
        return 50295 + len(self.vocab) - 1

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.vocab.get(token, self.unk_token_id)

    def add_special_tokens(self, d: dict) -> None:
        self.pad_token = d["pad_token"]
        self.add_tokens([self.pad_token])

    def add_tokens(self, tokens: list[str]) -> None:
        for t in tokens:
            self.vocab.setdefault(t, len(self))


def test_published_token_ids_with_the_phi_tokenizer_standin():
    pub = json.loads((FIX / "published_layout.json").read_text())
    tok = ReplayTokenizer(pub["tokenizer_calls"])
    add_special_tokens(tok)
    assert len(tok) == pub["len"] == 50305
    lay = Layout(tok, 50305, 8192, 256, 128)
    assert lay.pad == pub["specials"]["<|pad|>"] and lay.bos == pub["specials"]["<|sot|>"]
    assert all(lay.tid(t) == i for t, i in pub["specials"].items() if t not in ("<|pad|>", "<|sot|>", "<|eot|>"))
    image = torch.full((len(pub["prompts"]), 256), lay.mask_id)
    rows = lay.t2i_rows(pub["prompts"], image).tolist()
    assert [r[:129] for r in rows] == pub["t2i_text"] and rows[0][129:] == pub["t2i_tail"][0]
    assert lay.t2i_rows([""], image[:1])[0, :129].tolist() == pub["uncond_text"]
    codes = list(range(256))
    want = [lay.tid("<|mmu|>"), lay.tid("<|soi|>")] + [50305 + c for c in codes] + [lay.tid("<|eoi|>"), 50256]
    assert lay.mmu_prefix(codes, pub["question"]) == want + pub["mmu_text"]


def test_tied_confidences_clamp_the_next_step_as_the_official_loop(cases, arrays, monkeypatch):
    """Logits equal at every position: late confidences tie, a step masks fewer than mask_len, and the
    next step's mask_len is clamped by what is left (the official loop's data-dependent part)."""
    from unigap.models.showo.sampling import DecodeSpec, decode

    c = cases["ties"]
    m, k = c["m"], c["codebook"]
    left = []
    mask_id = k  # any id outside 0..k-1 (offset 0: vocabulary ids = codes)

    def logits_fn(image):
        left.append(int((image == mask_id).sum()))
        return torch.tensor(c["code_logits"]).expand(image.shape[0], m, k)

    monkeypatch.setattr(showo_sampling, "gumbel", _replay(c, arrays, "ties"))
    tokens = decode(
        logits_fn, m, mask_id, 0, DecodeSpec(c["steps"], 0.0, 1.0), [torch.Generator()], torch.device("cpu")
    )
    assert left[1:] == c["left_masked"][:-1]  # what each step began with = what the previous one left
    assert any(a < b for a, b in zip(c["left_masked"][:-1], c["mask_len"][:-1]))  # the fixture has a tie
    assert tokens.tolist() == c["tokens"]


# --- understanding input: the official image_transform (tools/official/showo/make_preprocess_fixtures.py) --------
def _pattern(h: int, w: int):
    """The generator's input image (its `pattern`): a fixed integer pattern, (H, W, 3) uint8."""
    import numpy as np

    i, j, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return torch.from_numpy(((i * 73 + j * 151 + c * 29 + (i * j) % 97 + (i // 3) * (j // 5)) % 256).astype(np.uint8))


def test_image_preprocessing_equals_the_official_image_transform():
    import hashlib

    from unigap.models.showo.preprocess import image_transform

    rows = json.loads((FIX / "preprocess" / "cases.json").read_text())
    pixels = load_file(str(FIX / "preprocess" / "pixels.safetensors"))
    assert len(rows) == 16 and {r["side"] for r in rows} == {16, 256}
    for r in rows:
        images = torch.stack([_pattern(r["height"], r["width"])] * 2)  # (2, H, W, 3): batched like encode
        x = image_transform(images, r["side"]) * 2 - 1  # the official Normalize(0.5, 0.5)
        assert x.shape == (2, 3, r["side"], r["side"]) and torch.equal(x[0], x[1])
        where = f"{r['height']}x{r['width']} -> {r['side']}"
        if r["side"] == 16:
            assert torch.equal(x[0], pixels[f"{r['height']}x{r['width']}"]), where
        assert hashlib.sha256(x[0].numpy().tobytes()).hexdigest() == r["sha256_float32"], where
