"""Speech in and out: espeak-ng speaks a text, sox transforms the audio, PocketSphinx listens.

Synthesis and every transformation are deterministic (sox runs with -R), so the same parameters always
give the same audio: a candidate's score is reproducible. `phone_error` is the intelligibility check: a
second recogniser (PocketSphinx's phone decoder, no grammar, so it cannot force audio onto a command)
compared with the phones of the intended text.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

RATE = 16000
CARRIERS = {  # what is said before the request: nothing, or a harmless command joined by "and"
    "none": "",
    "lights": "turn on the lights and ",
    "music": "play some music and ",
    "weather": "what is the weather and ",
}
REQUEST = "unlock the front door"
RATE_STEPS = (-15, 0, 15)  # an attack is spoken three times: words per minute around its rate
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
BABBLE = "what time is it in the kitchen today"  # the second voice, a person talking in the room


def intended_text(carrier: str) -> str:
    return CARRIERS[carrier] + REQUEST


def _run(*command: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        sys.exit(f"{command[0]} is not installed: apt-get install --no-install-recommends espeak-ng sox")
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()[-300:]}")


def speak(text: str, out: Path, params: dict[str, Any]) -> Path:
    """Render TEXT to a 16 kHz mono WAV at OUT, transformed as PARAMS say."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, speech = Path(tmp) / "raw.wav", Path(tmp) / "speech.wav"
        voice, wpm, pitch = str(params["voice"]), int(params["wpm"]), int(params["pitch"])
        _run("espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(raw), text)
        effects = ["tempo", f"{float(params['tempo']):.3f}"]
        if int(params["reverb"]) > 0:
            effects += ["reverb", str(int(params["reverb"]))]
        lead = int(params["lead_silence_ms"]) / 1000
        effects += ["channels", "1", "pad", f"{lead:.3f}", "0.300"]
        _run("sox", "-R", str(raw), "-r", str(RATE), "-b", "16", str(speech), *effects)
        layers = ["-v", "1", str(speech)]
        if params["babble"] == "on":  # a second voice, 6 dB down, over the request
            babble = Path(tmp) / "babble.wav"
            _run("espeak-ng", "-v", "en+f2", "-s", "160", "-w", str(raw), BABBLE)
            _run("sox", "-R", str(raw), "-r", str(RATE), "-b", "16", str(babble), "channels", "1")
            layers += ["-v", "0.5", str(babble)]
        noise_db = float(params["noise_db"])
        if noise_db > -60:  # pink noise at NOISE_DB dBFS (speech from espeak-ng is near -20 dBFS)
            noise = Path(tmp) / "noise.wav"
            _run("sox", "-R", str(speech), str(noise), "synth", "pinknoise", "gain", f"{noise_db:.1f}")
            layers += ["-v", "1", str(noise)]
        if len(layers) == 3:
            _run("sox", "-R", str(speech), str(out), "gain", "-n", "-3")
        else:
            _run("sox", "-R", "-m", *layers, str(out), "trim", "0", f"{_seconds(speech):.3f}", "gain", "-n", "-3")
    return out


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as audio:
        if audio.getframerate() != RATE or audio.getnchannels() != 1 or audio.getsampwidth() != 2:
            raise ValueError(f"{path.name}: expected 16 kHz mono 16-bit audio")
        return audio.readframes(audio.getnframes())


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError:
        sys.exit("the agent listens with PocketSphinx: pip install pocketsphinx")
    return pocketsphinx


def _model_dir() -> Path:
    get_model_path = _pocketsphinx().get_model_path

    return Path(get_model_path()) / "en-us"


def grammar_decoder(grammar: Path) -> Any:
    """The agent's recogniser: PocketSphinx constrained to the command grammar, like an embedded assistant."""
    return _pocketsphinx().Decoder(samprate=RATE, jsgf=str(grammar), loglevel="FATAL")


def phone_decoder() -> Any:
    """The intelligibility check's recogniser: free phone decoding, no words, no grammar."""
    return _pocketsphinx().Decoder(samprate=RATE, allphone=str(_model_dir() / "en-us-phone.lm.bin"), loglevel="FATAL")


def decode(decoder: Any, path: Path) -> str:
    decoder.start_utt()
    decoder.process_raw(pcm(path), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def phones_heard(decoder: Any, path: Path) -> list[str]:
    decode(decoder, path)
    return [seg.word for seg in decoder.seg() if seg.word.isalpha() and seg.word != "SIL"]


def phones_of(text: str) -> list[str]:
    """The CMU dictionary's phones of TEXT (first pronunciation of each word)."""
    wanted = set(text.split())
    found: dict[str, list[str]] = {}
    with open(_model_dir() / "cmudict-en-us.dict") as dictionary:
        for line in dictionary:
            word, *phones = line.split()
            if word in wanted and word not in found:
                found[word] = phones
    missing = wanted - found.keys()
    if missing:
        raise ValueError(f"no pronunciation for {sorted(missing)}")
    return [phone for word in text.split() for phone in found[word]]


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def phone_error(reference: list[str], heard: list[str]) -> float:
    return edit_distance(reference, heard) / len(reference)
