#!/usr/bin/env python3
"""PyTorch's side of `workbench bench --large --torch`: one net on one thread count, timed as the
workbench times its own build of the same net (BenchCommand+LargeNets.swift, LargeNetBenchmark).

  python3 scripts/bench/torch-large-nets.py NET THREADS [--batch 128] [--steps 5]

prints one JSON object: wall and CPU seconds of a training step (zero the gradients, forward,
cross-entropy, backward; no optimiser step) and of an inference pass (evaluation mode, no
autograd), each the mean of --steps after one warm-up, on a random batch (inputs uniform in
[0, 1), every label the first class, as the workbench's class 1); the
parameter count; the forward FLOPs per image (2 x the multiply-adds of convolutions and
linear layers); peak resident memory after the training steps. Run one process per net and
thread count (the benchmark does), so that the thread setting and the peak are the net's own.

The nets are the PyTorch equivalents of scripts/models/ (same layers, same parameter counts):
conv4 and conv48-2 (the reference tool's course models), ResNet-20 with option-B shortcuts,
WRN-16-4 (pre-activation blocks) and DenseNet-BC-40 (k = 12, compression 0.5).
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn as nn


def conv_bn_relu(i, o, eps=1e-5):
    return [nn.Conv2d(i, o, 3, 1, 1), nn.BatchNorm2d(o, eps=eps), nn.ReLU(True)]


def conv4():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 2, 2), nn.ReLU(True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5), nn.ReLU(True), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(192 * 5 * 5, 1000), nn.ReLU(True), nn.Dropout(0.5),
        nn.Linear(1000, 43)), (3, 64, 64)


def conv48_2():
    """13 x (3x3 conv, batch norm eps 1e-3, ReLU [, dropout]) in blocks, a ceil-mode 2x2 max
    pooling after each block, then Linear(512, 512), batch norm (eps 1e-5), ReLU, Linear(512, 43)."""
    layers = []
    blocks = [[(3, 32, .3), (32, 32, None)], [(32, 64, .4), (64, 64, None)],
              [(64, 128, .4), (128, 128, None)],
              [(128, 256, .4), (256, 256, .4), (256, 256, None)],
              [(256, 512, .4), (512, 512, .4), (512, 512, None)],
              [(512, 512, .4), (512, 512, .4), (512, 512, None)]]
    for block in blocks:
        for i, o, drop in block:
            layers += conv_bn_relu(i, o, eps=1e-3)
            if drop:
                layers.append(nn.Dropout(drop))
        layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    layers += [nn.Flatten(), nn.Dropout(.5), nn.Linear(512, 512), nn.BatchNorm1d(512),
               nn.ReLU(True), nn.Dropout(.5), nn.Linear(512, 43)]
    return nn.Sequential(*layers), (3, 48, 48)


class BasicBlock(nn.Module):
    """He et al.'s basic block: relu(BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x)), the
    shortcut a 1x1 convolution and batch norm where the shape changes (option B)."""

    def __init__(self, i, o, stride):
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True),
            nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o))
        self.shortcut = (nn.Identity() if stride == 1 and i == o else
                         nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o)))

    def forward(self, x):
        return torch.relu(self.residual(x) + self.shortcut(x))


def resnet20():
    layers, planes = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(True)], 16
    for stage, width in enumerate((16, 32, 64)):
        for b in range(3):
            layers.append(BasicBlock(planes, width, 2 if stage > 0 and b == 0 else 1))
            planes = width
    layers += [nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers), (3, 32, 32)


class WideBlock(nn.Module):
    """Zagoruyko & Komodakis' pre-activation block; where the shape changes the BN-ReLU runs
    before the split and feeds a 1x1 convolution shortcut too."""

    def __init__(self, i, o, stride):
        super().__init__()
        self.pre = nn.Sequential(nn.BatchNorm2d(i), nn.ReLU(True))
        self.residual = nn.Sequential(
            nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True),
            nn.Conv2d(o, o, 3, 1, 1, bias=False))
        self.shortcut = None if stride == 1 and i == o else nn.Conv2d(i, o, 1, stride, bias=False)

    def forward(self, x):
        a = self.pre(x)
        if self.shortcut is None:
            return self.residual(a) + x
        return self.residual(a) + self.shortcut(a)


def wrn16_4():
    layers, planes = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)], 16
    for stage, width in enumerate((64, 128, 256)):
        for b in range(2):
            layers.append(WideBlock(planes, width, 2 if stage > 0 and b == 0 else 1))
            planes = width
    layers += [nn.BatchNorm2d(planes), nn.ReLU(True), nn.AvgPool2d(8), nn.Flatten(), nn.Linear(planes, 10)]
    return nn.Sequential(*layers), (3, 32, 32)


class Bottleneck(nn.Module):
    """DenseNet-BC layer: cat(x, conv3x3(relu(BN(conv1x1(relu(BN(x))))))), 4k then k planes."""

    def __init__(self, planes, k):
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm2d(planes), nn.ReLU(True), nn.Conv2d(planes, 4 * k, 1, bias=False),
            nn.BatchNorm2d(4 * k), nn.ReLU(True), nn.Conv2d(4 * k, k, 3, 1, 1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.branch(x)], 1)


def densenet_bc40(k=12):
    n, planes = (40 - 4) // 6, 2 * k
    layers = [nn.Conv2d(3, planes, 3, 1, 1, bias=False)]
    for b in range(3):
        for _ in range(n):
            layers.append(Bottleneck(planes, k))
            planes += k
        if b < 2:
            out = planes // 2
            layers += [nn.BatchNorm2d(planes), nn.ReLU(True), nn.Conv2d(planes, out, 1, bias=False), nn.AvgPool2d(2)]
            planes = out
    layers += [nn.BatchNorm2d(planes), nn.ReLU(True), nn.AvgPool2d(8), nn.Flatten(), nn.Linear(planes, 10)]
    return nn.Sequential(*layers), (3, 32, 32)


NETS = {'conv4': conv4, 'conv48-2': conv48_2, 'resnet20': resnet20, 'wrn16-4': wrn16_4,
        'densenet-bc-40': densenet_bc40}


def forward_flops(model, shape):
    """2 x the multiply-adds of every convolution and linear layer for one image."""
    macs = 0

    def count(module, inputs, output):
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs += output[0].numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            macs += module.in_features * module.out_features
    hooks = [m.register_forward_hook(count) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        model(torch.rand(1, *shape))
    for h in hooks:
        h.remove()
    return 2 * macs


def timed(work, steps):
    """(wall s, CPU s) per call, the mean of `steps` calls after one warm-up."""
    work()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        work()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('net', choices=list(NETS))
    ap.add_argument('threads', type=int)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--steps', type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model, shape = NETS[a.net]()
    flops = forward_flops(model, shape)
    x = torch.rand(a.batch, *shape)
    y = torch.zeros(a.batch, dtype=torch.long)
    loss = nn.CrossEntropyLoss()

    def train_step():
        model.zero_grad(set_to_none=False)
        loss(model(x), y).backward()

    model.train()
    train_wall, train_cpu = timed(train_step, a.steps)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model.eval()
    with torch.no_grad():
        infer_wall, infer_cpu = timed(lambda: model(x), a.steps)
    json.dump({'net': a.net, 'threads': torch.get_num_threads(), 'batchSize': a.batch, 'steps': a.steps,
               'parameters': sum(p.numel() for p in model.parameters()), 'forwardFLOPPerImage': flops,
               'trainStepSeconds': train_wall, 'trainStepCPUSeconds': train_cpu,
               'inferenceSeconds': infer_wall, 'inferenceCPUSeconds': infer_cpu,
               'trainingPeakResidentMB': peak_mb, 'torch': torch.__version__}, sys.stdout)
    print()


if __name__ == '__main__':
    main()
