import numpy as np
import pytest

from mtsed.config import FeatureConfig
from mtsed.data.default.audibility import _mel_power, event_audibility, masked_share_by_class
from mtsed.data.default.mixing import Mixture, Stem
from mtsed.features.logmel import log_mel
from mtsed.io.events import Event

SR = 44100


def _mixture(event_db: dict[str, float]) -> Mixture:
    """Noise with one half-second noise burst per label, a second apart, at ``event_db`` against it."""
    rng = np.random.default_rng(0)
    bed = (rng.standard_normal((len(event_db) + 1) * SR) * 0.01).astype(np.float32)
    stems, events = [Stem(0, bed)], []
    for i, (label, db) in enumerate(event_db.items()):
        start = int((0.5 + i) * SR)
        burst = (rng.standard_normal(SR // 2) * 0.01 * 10 ** (db / 20)).astype(np.float32)
        event = Event(start / SR, (start + burst.size) / SR, label)
        stems.append(Stem(start, burst, (event,)))
        events.append(event)
    signal = bed.copy()
    for stem in stems[1:]:
        signal[stem.start : stem.start + stem.signal.size] += stem.signal
    return Mixture(signal, tuple(events), tuple(stems))


def test_an_event_under_the_background_is_masked_and_a_loud_one_is_not():
    result = {a.event.label: a for a in event_audibility(_mixture({"loud": 20.0, "buried": -30.0}), FeatureConfig())}
    assert result["loud"].frames == result["buried"].frames == 25
    assert result["loud"].masked == 0
    assert result["buried"].masked >= 23  # all but the frames its edges share with the noise floor's dips
    table = masked_share_by_class(result.values())
    assert table["buried"]["mostly_masked_events"] == 1.0 and table["loud"]["masked_frames"] == 0.0


def test_masking_grows_as_an_event_gets_quieter():
    levels = {"plus-10": 10.0, "even": 0.0, "minus-8": -8.0, "minus-20": -20.0}
    masked = [a.masked for a in event_audibility(_mixture(levels), FeatureConfig())]
    assert masked == sorted(masked) and masked[0] == 0 and masked[-1] >= 23
    assert 0 < masked[2] < 25  # near the threshold of being heard: in some frames only


def test_local_mel_power_equals_the_whole_recordings_frames():
    cfg = FeatureConfig()
    rng = np.random.default_rng(1)
    clip = rng.standard_normal(9000).astype(np.float32)
    placed = np.zeros(2 * SR, np.float32)
    placed[30000 : 30000 + clip.size] = clip
    whole = np.exp(log_mel(placed, cfg).astype(np.float64)) - cfg.log_eps
    first, local = _mel_power(clip, 30000, whole.shape[0], cfg)
    assert first > 0
    np.testing.assert_allclose(local, whole[first : first + len(local)], rtol=1e-4, atol=1e-6)
    assert whole[:first].max() < 1e-6 and whole[first + len(local) :].max() < 1e-6


def test_a_mixture_without_stems_is_refused():
    with pytest.raises(ValueError, match="keep_stems"):
        event_audibility(Mixture(np.zeros(SR, np.float32), (Event(0.1, 0.2, "a"),)), FeatureConfig())
