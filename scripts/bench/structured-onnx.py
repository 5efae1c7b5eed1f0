"""ONNX Runtime's side of `workbench bench --structured`: for each NAME.onnx in FOLDER, the
10k-image inference of the test set in DATA (a safetensors file with 'input' [N, C, H, W]
float32 and 'labels' [N]) at batch B (default 1000; the workbench passes -test's 250), best
of 3, with 1 and 2 intra-op threads (wall seconds, and the CPU seconds of that run), and the
test error. Prints one JSON object:
{name: {"error": %, "seconds": {threads: s}, "cpuSeconds": {threads: s}}}.

    .venv/bin/python scripts/bench/structured-onnx.py FOLDER DATA [--batch=B] [THREADS...]
"""
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file


def main():
    folder, data_path = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    batch = 1000
    if rest and rest[0].startswith('--batch='):
        batch = int(rest[0][len('--batch='):])
        rest = rest[1:]
    threads = [int(t) for t in rest] or [1, 2]
    data = load_file(data_path)
    x, labels = data['input'], data['labels'].astype(np.int64)
    results = {}
    for name in sorted(f[:-5] for f in os.listdir(folder) if f.endswith('.onnx')):
        entry = {'seconds': {}, 'cpuSeconds': {}}
        for t in threads:
            options = ort.SessionOptions()
            options.intra_op_num_threads = t
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            session = ort.InferenceSession(os.path.join(folder, name + '.onnx'), options,
                                           providers=['CPUExecutionProvider'])
            session.run(None, {'input': x[:batch]})  # warm-up
            best, best_cpu = float('inf'), 0.0
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                wrong = 0
                for s in range(0, len(x), batch):
                    out = session.run(None, {'input': x[s:s + batch]})[0]
                    wrong += int((out.argmax(1) != labels[s:s + batch]).sum())
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                if wall < best:
                    best, best_cpu = wall, cpu
            entry['seconds'][str(t)] = best
            entry['cpuSeconds'][str(t)] = best_cpu
            entry['error'] = 100.0 * wrong / len(x)
        results[name] = entry
    print(json.dumps(results))


if __name__ == '__main__':
    main()
