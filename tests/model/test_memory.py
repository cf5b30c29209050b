"""Freed memory is kept inside reuse_freed_memory: a second large tensor does not fault its pages in again."""

import platform
import resource

import pytest
import torch

from mtsed.model.memory import reuse_freed_memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def _page_faults_of_a_new_tensor(megabytes: int) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(megabytes * 2**18)  # float32: 4 bytes a value; written, so every page is touched
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_freed_large_block_is_reused_inside_and_handed_back_outside():
    pages = 60 * 2**20 // 4096  # tensors over 32 MB: above glibc's largest mmap threshold
    with reuse_freed_memory() as told:
        assert told
        _page_faults_of_a_new_tensor(64)
        assert (
            _page_faults_of_a_new_tensor(60) < pages / 10
        )  # fits in the block just freed (torch asks 64-byte alignment)
    _page_faults_of_a_new_tensor(64)
    assert _page_faults_of_a_new_tensor(60) > pages / 2  # the defaults again: mapped afresh each time
