"""Official Show-o / MAGVIT-v2 state_dict key names for any depth/width, independent of our modules
(used to check our key map both ways, e.g. for checkpoints we write).

Checked against the names the official classes produce (tests/fixtures/official/showo/keys.json,
tiny and published dims; test_showo_official.py). Showo: `self.showo = PhiForCausalLM(config)`
(phi.py: model.embed_tokens, model.layers[i] with self_attn.{q_proj,k_proj,v_proj,dense} and
self_attn.{q_layernorm,k_layernorm} -- phi.py forces qk_layernorm=True --, mlp.{fc1,fc2},
input_layernorm; model.final_layernorm; lm_head with bias; RoPE buffers non-persistent).
MAGVITv2: encoder (VQGANEncoder), decoder (VQGANDecoder), quantize (LFQuantizer buffers).
"""

from __future__ import annotations


def _wb(prefix: str) -> list[str]:
    return [f"{prefix}.weight", f"{prefix}.bias"]


def showo_keys(layers: int) -> list[str]:
    keys = ["showo.model.embed_tokens.weight"]
    for i in range(layers):
        p = f"showo.model.layers.{i}"
        for m in (
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.dense",
            "self_attn.q_layernorm",
            "self_attn.k_layernorm",
            "mlp.fc1",
            "mlp.fc2",
            "input_layernorm",
        ):
            keys += _wb(f"{p}.{m}")
    return keys + _wb("showo.model.final_layernorm") + _wb("showo.lm_head")


def _resnet(p: str, cin: int, cout: int) -> list[str]:
    keys = [k for m in ("norm1", "conv1", "norm2", "conv2") for k in _wb(f"{p}.{m}")]  # temb_ch = 0: no temb_proj
    return keys + (_wb(f"{p}.nin_shortcut") if cin != cout else [])


def _mid(p: str) -> list[str]:
    attn = [k for m in ("norm", "q", "k", "v", "proj_out") for k in _wb(f"{p}.attn_1.{m}")]
    return _resnet(f"{p}.block_1", 1, 1) + attn + _resnet(f"{p}.block_2", 1, 1)


def magvit_keys(ch: int, enc_mult, enc_blocks, dec_mult, dec_blocks) -> list[str]:
    keys = _wb("encoder.conv_in")
    mult_in = (1,) + tuple(enc_mult)
    for i, n in enumerate(enc_blocks):  # attn_resolutions [5] never matches: no down[i].attn keys
        cin, cout = ch * mult_in[i], ch * enc_mult[i]
        for j in range(n):
            keys += _resnet(f"encoder.down.{i}.block.{j}", cin if j == 0 else cout, cout)
        if i != len(enc_mult) - 1:
            keys += _wb(f"encoder.down.{i}.downsample.conv")
    keys += _mid("encoder.mid") + _wb("encoder.norm_out") + _wb("encoder.conv_out") + _wb("encoder.quant_conv")
    keys += _wb("decoder.conv_in") + _mid("decoder.mid")
    block_in = ch * dec_mult[-1]
    for i in reversed(range(len(dec_mult))):
        cout = ch * dec_mult[i]
        for j in range(dec_blocks[i]):
            keys += _resnet(f"decoder.up.{i}.block.{j}", block_in if j == 0 else cout, cout)
        block_in = cout
        if i != 0:
            keys += _wb(f"decoder.up.{i}.upsample.conv")
    keys += _wb("decoder.norm_out") + _wb("decoder.conv_out") + _wb("decoder.post_quant_conv")
    return keys + ["quantize.embedding", "quantize.power_vals"]
