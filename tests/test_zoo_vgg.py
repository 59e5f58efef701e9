"""VGG configurations A to E (Simonyan and Zisserman 2014, Table 1), built-in, to the unit.

Parameters: ../shared/reference/published.yaml (torchvision's vgg11, vgg13, vgg16, vgg19, and
configuration C, vgg16 with 1x1 convs as conv3_3, conv4_3 and conv5_3); the lecture notes round
them to 133, 133, 134, 138 and 144 M (walkthroughs.yaml published_counts). MACs are written as the
sum of the conv stages and the classifier, bias ignored, one 224x224 image.
"""

from __future__ import annotations

import pytest
from helpers import analyze_model

# (channels in, channels out, kernel) of each conv of a stage, and the stage's spatial size
A = [[(3, 64, 3)], [(64, 128, 3)], [(128, 256, 3), (256, 256, 3)], [(256, 512, 3), (512, 512, 3)], [(512, 512, 3)] * 2]
B = [[(3, 64, 3), (64, 64, 3)], [(64, 128, 3), (128, 128, 3)], [(128, 256, 3), (256, 256, 3)], [(256, 512, 3), (512, 512, 3)], [(512, 512, 3)] * 2]
C = [*B[:2], B[2] + [(256, 256, 1)], B[3] + [(512, 512, 1)], B[4] + [(512, 512, 1)]]
D = [*B[:2], B[2] + [(256, 256, 3)], B[3] + [(512, 512, 3)], B[4] + [(512, 512, 3)]]
E = [*B[:2], B[2] + [(256, 256, 3)] * 2, B[3] + [(512, 512, 3)] * 2, B[4] + [(512, 512, 3)] * 2]
SIZES = (224, 112, 56, 28, 14)
CLASSIFIER = [(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]


def conv_params(stages) -> int:
    return sum(c_out * c_in * k * k + c_out for stage in stages for c_in, c_out, k in stage)


def conv_macs(stages) -> int:
    return sum(size * size * c_out * c_in * k * k for stage, size in zip(stages, SIZES) for c_in, c_out, k in stage)


HEAD_PARAMS = sum(n_in * n_out + n_out for n_in, n_out in CLASSIFIER)
HEAD_MACS = sum(n_in * n_out for n_in, n_out in CLASSIFIER)

CONFIGURATIONS = [
    pytest.param("vgg11", A, 132_863_336, 133, id="A vgg11"),
    pytest.param("vgg13", B, 133_047_848, 133, id="B vgg13"),
    pytest.param("vgg16_c", C, 133_638_952, 134, id="C vgg16_c"),
    pytest.param("vgg16", D, 138_357_544, 138, id="D vgg16"),
    pytest.param("vgg19", E, 143_667_240, 144, id="E vgg19"),
]


@pytest.mark.parametrize(("name", "stages", "published", "millions"), CONFIGURATIONS)
def test_vgg_configuration_params(name, stages, published, millions):
    report = analyze_model(name)
    assert report.totals.params == published == conv_params(stages) + HEAD_PARAMS
    assert round(published / 10**6) == millions
    assert report.output_shape == (1000,)


@pytest.mark.parametrize(("name", "stages", "published", "millions"), CONFIGURATIONS)
def test_vgg_configuration_macs(name, stages, published, millions):
    assert analyze_model(name).totals.macs == conv_macs(stages) + HEAD_MACS


def test_configuration_c_is_d_with_three_1x1_convs():
    """Each 1x1 keeps 1 of the 9 weights per channel pair: 8*(256*256 + 512*512 + 512*512) fewer."""
    assert analyze_model("vgg16").totals.params - analyze_model("vgg16_c").totals.params == 8 * (256 * 256 + 2 * 512 * 512)
    paths = [r.path for r in analyze_model("vgg16_c").rows if r.kind == "conv2d"]
    assert [p for p in paths if p.endswith("conv1x1")] == [f"features.stage{i}.conv1x1" for i in (3, 4, 5)]
