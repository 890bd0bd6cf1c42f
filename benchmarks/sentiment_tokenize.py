"""Time the IMDB text pipeline: reading the reviews, encoding them without a cache, then with one.

    FRAMEBENCH_DATA=/tmp/fbdata python benchmarks/sentiment_tokenize.py

Prints seconds per stage; the cache goes to a temporary folder, so the user's cache is untouched.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.datasets import load_imdb_reviews  # noqa: E402
from tasks.sentiment import SPEC  # noqa: E402
from tasks.text import encode_dataset  # noqa: E402


def main() -> None:
    """Read, encode (no cache), encode (cache miss: build + save), encode (cache hit)."""
    start = time.perf_counter()
    raw = load_imdb_reviews()
    print(f"read {len(raw.train_texts)} + {len(raw.test_texts)} reviews: {time.perf_counter() - start:.2f} s")
    settings = dict(num_words=SPEC.data.num_words, maxlen=SPEC.data.max_len, padding="pre", truncating="pre")
    args = (raw.train_texts, raw.y_train, raw.test_texts, raw.y_test)
    print(f"encode, no cache: {encode_dataset(*args, **settings).seconds:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        miss = encode_dataset(*args, **settings, cache_dir=Path(folder))
        hit = encode_dataset(*args, **settings, cache_dir=Path(folder))
    print(f"encode, cache miss (hash + build + save): {miss.seconds:.2f} s (from_cache={miss.from_cache})")
    print(f"encode, cache hit (hash + load): {hit.seconds:.2f} s (from_cache={hit.from_cache})")


if __name__ == "__main__":
    main()
