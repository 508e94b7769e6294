#!/bin/sh
# Regenerate the real speech clips in tests/data/speech/ (tests never run espeak themselves).
# Each clip: one word spoken by espeak-ng (which adds ~0.35 s of its own silence at the end),
# 16 kHz mono 16-bit FLAC, with 0.3 s of silence added before and after. The 16-bit dither
# leaves a noise floor near -96 dBFS; sox -R makes it the same on every run, so the files come
# out byte-identical. Needs espeak-ng and sox:  sh tests/data/make_speech.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/speech"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for word in yes no up down tum; do
    espeak-ng -v en -s 150 -w "$tmp/$word.wav" "$word"
    sox -R "$tmp/$word.wav" -r 16000 -c 1 -b 16 "$out/$word.flac" pad 0.3 0.3
done
ls -l "$out"
