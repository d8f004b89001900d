"""Batched independent heads: head k is a network of its own (its slice of every parameter), and early stopping
can keep one head's parameters without touching the others."""

from __future__ import annotations

import torch

from surrogates.batched import BatchedMLP, keep_heads


def test_each_head_depends_only_on_its_own_slice_of_the_parameters():
    torch.manual_seed(0)
    net = BatchedMLP(heads=3, inputs=4, outputs=2, width=8, blocks=2)
    x = torch.randn(5, 4)
    before = net(x).detach()
    assert before.shape == (3, 5, 2)
    with torch.no_grad():
        for p in net.parameters():
            p[1] += 1.0  # change head 1 only
    after = net(x).detach()
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])
    assert not torch.allclose(after[1], before[1])


def test_keep_heads_copies_only_the_improved_heads():
    torch.manual_seed(1)
    net = BatchedMLP(heads=2, inputs=3, outputs=1, width=4, blocks=1)
    best = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
    keep_heads(best, net, torch.tensor([False, True]))
    for name, value in net.state_dict().items():
        assert torch.equal(best[name][1], value[1]) and not best[name][0].any()
