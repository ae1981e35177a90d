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
