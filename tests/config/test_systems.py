"""Systems name a network and a decoder; multitask reads the proposed network."""

import pytest

from mtsed.config.systems import DEFAULT_SYSTEM, NETWORKS, PAPER_DECODERS, SYSTEMS, network_of


def test_every_system_reads_a_trained_network():
    assert {network_of(s) for s in SYSTEMS} == set(NETWORKS) and network_of("multitask") == "proposed"
    assert DEFAULT_SYSTEM in SYSTEMS and set(PAPER_DECODERS) == set(NETWORKS)
    with pytest.raises(ValueError, match="unknown system 'best'"):
        network_of("best")
