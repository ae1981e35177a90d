from __future__ import annotations

import os

import torch

from segmatte.models import device


def test_cpu_threads_leave_room_for_the_pipeline(monkeypatch):
    monkeypatch.delenv("SEGMATTE_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert device.cpu_threads() == max(1, (os.cpu_count() or 2) // 2)
    monkeypatch.setenv("SEGMATTE_TORCH_THREADS", "3")
    assert device.cpu_threads() == 3


def test_configure_sets_torch_threads_on_cpu_only(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SEGMATTE_TORCH_THREADS", "1")
        device.configure("cuda")
        assert torch.get_num_threads() == before
        device.configure("cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_thread_policy_per_engine(monkeypatch):
    from segmatte.models import registry

    monkeypatch.delenv("SEGMATTE_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert device.cpu_threads("half") == 4 and device.cpu_threads("all") == 8
    monkeypatch.setenv("SEGMATTE_TORCH_THREADS", "3")
    assert device.cpu_threads("all") == 3  # the user's word wins over any policy
    assert registry.get("person").cpu_threads == "half"  # measured: bench/bench_person.py
    assert registry.get("key").cpu_threads == "half"
