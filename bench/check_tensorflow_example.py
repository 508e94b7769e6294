"""Run TensorFlow's own speech_commands input pipeline, unchanged, on a speechrec export.

TensorFlow is too heavy for the test suite (the tests re-type its data index and background-noise
logic instead, tests/test_export_loaders.py); this script is for a person with TensorFlow installed
and TensorFlow's example at hand (tensorflow/examples/speech_commands/input_data.py from its
repository; it is not in the pip package). It unzips the export, reads `--wanted_words` from the
zip's README, builds the example's AudioProcessor with train.py's defaults (silence and unknown
10 %, validation and testing 10 %, 16 kHz, 1000 ms, 30 ms windows every 10 ms, 40 MFCC bins) and
draws a training batch (background noise and ±100 ms time shifts, as train.py does) and every
validation and testing sample, then prints the sample count per label.

Usage: python bench/check_tensorflow_example.py EXPORT.zip --input-data PATH/TO/input_data.py [--wanted-words W,...]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import re
import sys
import tempfile
import zipfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="a zip written by speechrec export (Speech Commands layout)")
    parser.add_argument("--input-data", type=Path, required=True, help="TensorFlow's speech_commands/input_data.py")
    parser.add_argument("--wanted-words", help="comma-separated (default: the --wanted_words in the zip's README)")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("input_data", args.input_data)
    input_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(input_data)
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(args.export) as archive:
            archive.extractall(folder)
        readme = (Path(folder) / "README.md").read_text(encoding="utf-8")
        stated = re.search(r"--wanted_words=(\S+)", readme)
        if not (args.wanted_words or stated):
            sys.exit("the zip's README states no --wanted_words (an older export?); pass --wanted-words")
        wanted = (args.wanted_words or stated.group(1)).split(",")
        # train.py's defaults, as models.prepare_model_settings computes them.
        sample_rate, desired = 16000, 16000
        window, stride = 480, 160
        spectrogram_length = 1 + (desired - window) // stride
        settings = {
            "desired_samples": desired, "window_size_samples": window, "window_stride_samples": stride,
            "spectrogram_length": spectrogram_length, "fingerprint_width": 40,
            "fingerprint_size": 40 * spectrogram_length, "label_count": len(wanted) + 2,
            "sample_rate": sample_rate, "preprocess": "mfcc", "average_window_width": -1,
        }  # fmt: skip
        summaries = str(Path(folder) / "summaries")  # get_data writes summaries and needs a folder for them
        processor = input_data.AudioProcessor("", folder, 10.0, 10.0, wanted, 10, 10, settings, summaries)
        with tf.compat.v1.Session() as session:
            draws = {
                "training": processor.get_data(100, 0, settings, 0.8, 0.1, 1600, "training", session),
                "validation": processor.get_data(-1, 0, settings, 0.0, 0.0, 0, "validation", session),
                "testing": processor.get_data(-1, 0, settings, 0.0, 0.0, 0, "testing", session),
            }
        print(f"wanted words: {','.join(wanted)}; background noise files: {len(processor.background_data)}")
        for mode, (data, labels) in draws.items():
            names = collections.Counter(processor.words_list[int(label)] for label in labels)
            print(f"{mode}: {len(labels)} samples of {data.shape[1]} features; " + ", ".join(
                f"{name} {count}" for name, count in sorted(names.items())
            ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
