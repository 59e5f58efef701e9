"""The built-in models as PyTorch modules, for timing ``torchinfo.summary`` against convcalc.

Standalone (torchvision is not required): ResNet-50 as torchvision builds it (bottlenecks 3-4-6-3,
stride on the 3x3 conv, 25,557,032 parameters) and the original U-Net (unpadded convolutions,
centre-cropped skips, 31,030,658 parameters), the same networks as ``specs/resnet50.yaml`` and
``specs/unet.yaml``. The benchmark compares parameter counts to make sure of that.

    python benchmarks/torch_models.py summary resnet50           # one whole-process summary
    python benchmarks/torch_models.py inprocess unet --repeats 5  # JSON: in-process timings
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torchinfo
from torch import nn

__all__ = ["INPUT_SIZES", "MODELS", "main", "resnet50", "unet"]


class Bottleneck(nn.Module):
    """torchvision's Bottleneck: 1x1, 3x3 (carrying the stride), 1x1 to planes * 4, plus shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def resnet50(num_classes: int = 1000) -> nn.Module:
    """ResNet-50 v1.5, layer for layer as ``torchvision.models.resnet50()``."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    ]
    in_channels = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(in_channels, planes, stride if i == 0 else 1))
            in_channels = planes * Bottleneck.expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, num_classes)]
    return nn.Sequential(*layers)


def double_conv(in_channels: int, channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3), nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, 3), nn.ReLU(inplace=True),
    )


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top:top + height, left:left + width]


class UNet(nn.Module):
    """Ronneberger et al. (2015), Fig. 1: unpadded 3x3 convolutions, skips cropped to the centre."""

    def __init__(self, in_channels: int = 1, classes: int = 2):
        super().__init__()
        widths = (64, 128, 256, 512, 1024)
        self.inc = double_conv(in_channels, widths[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2, stride=2), double_conv(c_in, c_out)) for c_in, c_out in zip(widths, widths[1:])
        )
        self.ups = nn.ModuleList(nn.ConvTranspose2d(c_in, c_out, 2, stride=2) for c_in, c_out in zip(widths[:0:-1], widths[-2::-1]))
        self.convs = nn.ModuleList(double_conv(2 * c_out, c_out) for c_out in widths[-2::-1])
        self.outc = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up, conv in zip(self.ups, self.convs):
            x = up(x)
            skip = center_crop(skips.pop(), x.shape[-2], x.shape[-1])
            x = conv(torch.cat([skip, x], dim=1))
        return self.outc(x)


def unet() -> nn.Module:
    return UNet()


MODELS = {"resnet50": resnet50, "unet": unet}
INPUT_SIZES = {"resnet50": (1, 3, 224, 224), "unet": (1, 1, 572, 572)}


def summarize(name: str, verbose: int):
    """torchinfo's summary of a model; it runs a forward pass to find the shapes."""
    with torch.no_grad():
        return torchinfo.summary(MODELS[name](), input_size=INPUT_SIZES[name], verbose=verbose)


def time_inprocess(name: str, repeats: int) -> dict:
    """Median of ``torchinfo.summary`` on an already built model, torch already imported."""
    model = MODELS[name]()
    stats = None
    samples = []
    for _ in range(repeats + 1):  # the first call warms up torch's kernels and is not counted
        start = time.perf_counter()
        with torch.no_grad():
            stats = torchinfo.summary(model, input_size=INPUT_SIZES[name], verbose=0)
        samples.append(time.perf_counter() - start)
    return {"median_s": statistics.median(samples[1:]), "samples": samples[1:], "params": stats.total_params}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("summary", "inprocess"))
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.mode == "summary":
        summarize(args.model, verbose=1)
    else:
        json.dump(time_inprocess(args.model, args.repeats), sys.stdout)


if __name__ == "__main__":
    main()
