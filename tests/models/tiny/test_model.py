import torch

from unigap.models.tiny.model import TinyConfig, TinyUnified


def tiny(seed=0, layers=2):
    torch.manual_seed(seed)
    return TinyUnified(
        TinyConfig(
            text_vocab=60,
            image_vocab=32,
            n_image_tokens=16,
            prompt_len=12,
            block_size=48,
            n_layer=layers,
            n_head=2,
            n_embd=32,
        )
    ).eval()


def prompts(b, lengths):
    ids = torch.randint(8, 60, (b, 12))
    ok = torch.ones(b, 12, dtype=torch.bool)
    for i, n in enumerate(lengths):
        ok[i, : 12 - n] = False
        ids[i, : 12 - n] = 0
    return ids, ok


def gumbel(b, seed=0):
    g = torch.Generator().manual_seed(seed)
    return -torch.log(-torch.log(torch.rand(b, 16, 32, generator=g).clamp(1e-10, 1 - 1e-7)))


def test_kv_cache_logits_equal_full_recompute():
    m = tiny()
    ids, ok = prompts(3, [12, 7, 4])
    ids = torch.cat([ids, torch.randint(60, 92, (3, 10))], 1)
    ok = torch.cat([ok, torch.ones(3, 10, dtype=torch.bool)], 1)
    full = m(ids, ok)  # (B, T, C)
    caches = m.new_caches(3, 22, m.wpe.weight)
    steps = [m(ids[:, :12], ok[:, :12], caches, 0)]
    for t in range(12, 22):
        steps.append(m(ids[:, t : t + 1], ok[:, : t + 1], caches, t, torch.full((3, 1), t - 12)))
    cached = torch.cat(steps, 1)
    assert torch.allclose(m.gen_head(full), m.gen_head(cached), atol=1e-5)


def test_cached_sampling_equals_recompute_sampling():
    m = tiny()
    ids, ok = prompts(4, [12, 9, 5, 3])
    a, la = m.generate_images(ids, ok, gumbel(2), cfg_scale=3.0)
    b, lb = m.generate_images(ids, ok, gumbel(2), cfg_scale=3.0, use_cache=False)
    assert torch.equal(a, b) and torch.allclose(la, lb, atol=1e-5)


def test_sampling_is_batch_independent():
    m = tiny()
    ids, ok = prompts(6, [12, 9, 5, 3, 11, 2])
    noise = gumbel(3, seed=3)
    together, _ = m.generate_images(ids, ok, noise, cfg_scale=2.0)  # rows 0-2 cond, 3-5 their uncond
    for i in range(3):
        alone, _ = m.generate_images(ids[[i, i + 3]], ok[[i, i + 3]], noise[i : i + 1], cfg_scale=2.0)
        assert torch.equal(alone[0], together[i])


def test_teacher_forced_logprobs_match_sampling_logprobs():
    m = tiny()
    ids, ok = prompts(3, [12, 6, 2])
    tokens, logps = m.generate_images(ids, ok, gumbel(3), cfg_scale=1.0)
    assert torch.allclose(m.image_logprobs(ids, ok, tokens), logps, atol=1e-5)


def test_left_padding_does_not_change_logprobs():
    m = tiny()
    ids, ok = prompts(1, [5])
    tokens = torch.randint(0, 32, (1, 16))
    wide_ids = torch.cat([torch.zeros(1, 4, dtype=torch.long), ids], 1)
    wide_ok = torch.cat([torch.zeros(1, 4, dtype=torch.bool), ok], 1)
    a = m.image_logprobs(ids, ok, tokens)
    b = m.image_logprobs(wide_ids, wide_ok, tokens)
    assert torch.allclose(a, b, atol=1e-5)


def test_components_partition_parameters():
    m = tiny()
    groups = m.components()
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))


def test_model_file_is_small_and_readable():
    import inspect

    import unigap.models.tiny.model as mod

    assert len(inspect.getsource(mod).splitlines()) <= 400
