import librosa
import numpy as np
import pytest

from mtsed.config import FeatureConfig
from mtsed.features.logmel import Standardiser, log_mel, n_frames


def test_shape_and_frame_count_follow_the_hop():
    cfg = FeatureConfig()
    signal = np.zeros(44100 * 2 + 123, np.float32)
    features = log_mel(signal, cfg)
    assert features.shape == (n_frames(signal.size, cfg), 40) == (1 + signal.size // 882, 40)
    assert features.dtype == np.float32
    assert np.allclose(features, np.log(cfg.log_eps))  # silence is log(eps)


def test_a_tone_lights_up_the_mel_band_holding_its_frequency():
    cfg = FeatureConfig()
    sr = cfg.sample_rate
    signal = np.sin(2 * np.pi * 3000 * np.arange(sr) / sr).astype(np.float32)
    band = int(np.argmax(log_mel(signal, cfg)[10:-10].mean(axis=0)))
    centres = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    assert band == int(np.argmin(np.abs(centres - 3000)))


def test_feature_settings_match_the_spec():
    cfg = FeatureConfig()
    assert (cfg.sample_rate, cfg.n_mels, cfg.fmin, cfg.fmax) == (44100, 40, 50.0, 22050.0)
    assert cfg.win_length / cfg.sample_rate == pytest.approx(0.040)
    assert cfg.hop_length * 2 == cfg.win_length


def test_standardiser_streams_like_a_concatenation():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3, 2, size=(n, 5)).astype(np.float32) for n in (10, 31, 7)]
    std = Standardiser.fit(iter(parts))
    whole = np.concatenate(parts)
    np.testing.assert_allclose(std.mean, whole.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(std.std, whole.std(axis=0), rtol=1e-4)
    normed = std.apply(whole)
    np.testing.assert_allclose(normed.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(normed.std(axis=0), 1, atol=1e-4)
    again = Standardiser.from_dict(std.to_dict())
    np.testing.assert_array_equal(again.mean, std.mean)


def test_standardiser_refuses_no_frames_and_guards_constant_bands():
    with pytest.raises(ValueError):
        Standardiser.fit([])
    std = Standardiser.fit([np.ones((4, 3), np.float32)])
    assert np.all(std.std > 0) and np.all(np.isfinite(std.apply(np.ones((2, 3), np.float32))))


def test_features_do_not_depend_on_the_blas_thread_count():
    from threadpoolctl import threadpool_limits

    signal = (0.1 * np.random.default_rng(0).standard_normal(44100 * 30)).astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        one = log_mel(signal, FeatureConfig())
    with threadpool_limits(limits=4, user_api="blas"):
        many = log_mel(signal, FeatureConfig())
    assert np.array_equal(one, many)
