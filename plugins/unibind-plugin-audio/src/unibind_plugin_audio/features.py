"""Spectrogram recipes computed with torchaudio: ImageBind's Kaldi fbank, aisfx's mel spectrogram."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF

from unibind_plugin_audio.settings import FbankSettings


def imagebind_fbank(clip: torch.Tensor, settings: FbankSettings) -> torch.Tensor:
    """``[samples]`` at ``settings.sample_rate`` -> normalised log-mel ``[num_mel_bins, target_length]``.

    Kaldi fbank floors the mel energies at machine epsilon before the log, so
    silence gives a constant, finite picture.
    """
    wave = (clip - clip.mean()).unsqueeze(0)
    fbank = kaldi.fbank(wave, htk_compat=True, sample_frequency=settings.sample_rate, use_energy=False,
                        window_type="hanning", num_mel_bins=settings.num_mel_bins, dither=0.0,
                        frame_length=settings.frame_length_ms, frame_shift=settings.frame_shift_ms)
    frames = fbank.shape[0]
    if frames < settings.target_length:
        fbank = F.pad(fbank, (0, 0, 0, settings.target_length - frames))
    fbank = fbank[: settings.target_length].T
    return (fbank - settings.mean) / settings.std


# -- aisfx: the ISMIR 2022 paper's input ---------------------------------------------------

AISFX_RATE = 44100
AISFX_N_FFT = 2048
AISFX_HOP = 1024
AISFX_MELS = 96
AISFX_BLOCK_FRAMES = 100
#: The paper's normalisation: its global maximum of log10(1e4 * mel + 1) over all training data.
AISFX_MAX = 9.457798957824707


@functools.lru_cache(maxsize=1)
def _aisfx_filters() -> torch.Tensor:
    """``[n_fft/2+1, 96]`` HTK mel triangles over 0-22050 Hz, each summing to one (unit_sum)."""
    fb = AF.melscale_fbanks(AISFX_N_FFT // 2 + 1, f_min=0.0, f_max=AISFX_RATE / 2, n_mels=AISFX_MELS,
                            sample_rate=AISFX_RATE, norm=None, mel_scale="htk")
    return fb / fb.sum(dim=0, keepdim=True).clamp_min(1e-12)


@functools.lru_cache(maxsize=1)
def _hann() -> torch.Tensor:
    return torch.hann_window(AISFX_N_FFT)


def aisfx_mel(clip: torch.Tensor) -> torch.Tensor:
    """``[samples]`` at 44.1 kHz -> ``[100, 96]`` (time, mel), the block aisfx's CNN takes.

    The clip is peak-normalised first (silence stays zero: no division by zero).
    """
    if clip.shape[-1] < AISFX_N_FFT:  # reflect padding needs at least half a window on each side
        clip = F.pad(clip, (0, AISFX_N_FFT - clip.shape[-1]))
    peak = clip.abs().max()
    wave = clip / peak if peak > 0 else clip
    spec = torch.stft(wave, AISFX_N_FFT, hop_length=AISFX_HOP, window=_hann(), center=True,
                      pad_mode="reflect", return_complex=True).abs().pow(2)
    mel = (spec.T @ _aisfx_filters())
    mel = torch.log10(mel * 1e4 + 1.0) / AISFX_MAX
    frames = mel.shape[0]
    if frames < AISFX_BLOCK_FRAMES:
        mel = F.pad(mel, (0, 0, 0, AISFX_BLOCK_FRAMES - frames))
    return mel[:AISFX_BLOCK_FRAMES]
