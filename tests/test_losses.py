from __future__ import annotations

import pytest
import torch

from fasttx.config import format_layer_weights, parse_layer_weights
from fasttx.errors import FasttxError
from fasttx.losses import (
    LossConfig,
    PerceptualLoss,
    gram_errors,
    gram_matrix,
    relative_error,
    style_loss,
    tv_loss,
)


def test_gram_matrix_against_hand_computation() -> None:
    # one sample, 2 channels, 1x2 pixels: channel a = [1, 2], channel b = [3, 4]
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / (2 * 1 * 2)
    assert torch.allclose(gram_matrix(f), expected)


def test_gram_is_symmetric_and_size_invariant_for_repeated_texture() -> None:
    tile = torch.rand(1, 4, 3, 3)
    big = tile.repeat(1, 1, 4, 4)
    g_small, g_big = gram_matrix(tile), gram_matrix(big)
    assert torch.allclose(g_small, g_small.transpose(1, 2))
    assert torch.allclose(g_small, g_big, atol=1e-6)


def test_gram_and_style_loss_are_fp32_under_autocast() -> None:
    # bf16 autocast would run the bmm in bf16 (about 3 significant digits): the Gram matrix must stay exact
    features = torch.rand(2, 8, 16, 16) * 10
    expected = gram_matrix(features)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(features)
        loss = style_loss({"a": features}, {"a": expected[:1]}, {"a": 1.0})
    assert gram.dtype == torch.float32 and loss.dtype == torch.float32
    assert torch.allclose(gram, expected, rtol=1e-5)
    assert loss.item() == pytest.approx(relative_error(expected, expected[:1].expand(2, 8, 8)).mean().item(), rel=1e-5)


def test_relative_error_by_hand() -> None:
    target = torch.tensor([[3.0, 4.0]])  # |t|^2 = 25
    output = torch.tensor([[0.0, 4.0]])  # |o - t|^2 = 9
    assert relative_error(output, target).item() == pytest.approx(9 / 25)
    assert relative_error(torch.zeros(2, 3, 4, 4), torch.rand(2, 3, 4, 4)).tolist() == pytest.approx([1.0, 1.0])
    assert relative_error(torch.ones(2, 3, 4, 4), torch.ones(2, 3, 4, 4)).tolist() == [0.0, 0.0]


def test_style_loss_weights_layers_and_broadcasts_a_single_target() -> None:
    feats = {"a": torch.rand(3, 2, 4, 4), "b": torch.rand(3, 5, 2, 2)}
    grams = {k: gram_matrix(v[:1]) for k, v in feats.items()}
    loss = style_loss(feats, grams, {"a": 2.0, "b": 0.5})
    expected = (
        2.0 * relative_error(gram_matrix(feats["a"]), grams["a"].expand(3, 2, 2)).mean()
        + 0.5 * relative_error(gram_matrix(feats["b"]), grams["b"].expand(3, 5, 5)).mean()
    )
    assert loss.item() == pytest.approx(expected.item())
    same = {k: v[:1] for k, v in feats.items()}
    assert style_loss(same, grams, {"a": 1.0, "b": 1.0}).item() == pytest.approx(0.0, abs=1e-7)


def test_distances_are_the_style_layers_gram_errors_by_hand() -> None:
    """What `fasttx evaluate` reports: each layer's relative Gram error times its weight, summed; content unweighted."""
    from fasttx.nets.vgg import VGGFeatures

    cfg = LossConfig(style_layers={"relu1_2": 1.0, "relu2_2": 2.0, "relu3_3": 1.0}, content_weight=5.0)
    with pytest.warns(UserWarning):
        vgg = VGGFeatures(cfg.layers, weights="random")
    objective = PerceptualLoss(vgg, [torch.rand(3, 48, 48)], cfg)
    output, photo = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    feats = vgg(output)
    plain = sum(w * gram_errors(feats[k], objective.style_grams[k]).mean() for k, w in cfg.style_layers.items())
    content = relative_error(feats[cfg.content_layer], vgg(photo)[cfg.content_layer]).mean()
    distances = objective.distances(output, objective.content_targets(photo))
    assert distances["style"].item() == pytest.approx(float(plain), rel=1e-5)
    assert distances["content"].item() == pytest.approx(float(content), rel=1e-5)


def test_tv_loss_by_hand() -> None:
    img = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])  # vertical diffs [1, 0], horizontal diffs [1, 0]
    assert tv_loss(img).item() == pytest.approx(0.5 + 0.5)
    assert tv_loss(torch.full((1, 3, 5, 5), 0.3)).item() == 0.0


def test_parse_layer_weights() -> None:
    assert parse_layer_weights("relu1_2:0.5, relu2_2,relu3_3:2") == {"relu1_2": 0.5, "relu2_2": 1.0, "relu3_3": 2.0}
    with pytest.raises(FasttxError):
        parse_layer_weights("relu1_2:x")
    with pytest.raises(FasttxError):
        parse_layer_weights(" , ")
    weights = {"relu1_2": 0.5, "relu2_2": 1.0, "relu3_3": 2.0}
    assert format_layer_weights(weights) == "relu1_2:0.5,relu2_2,relu3_3:2"
    assert parse_layer_weights(format_layer_weights(weights)) == weights


def test_perceptual_loss_is_zero_for_the_style_image_itself_and_mixes_styles() -> None:
    from fasttx.nets.vgg import VGGFeatures

    cfg = LossConfig(style_layers={"relu1_2": 1.0, "relu2_2": 1.0}, tv_weight=0.1)
    with pytest.warns(UserWarning):
        vgg = VGGFeatures(cfg.layers, weights="random")
    style = torch.rand(3, 32, 32)
    objective = PerceptualLoss(vgg, [style], cfg)
    terms = objective(style.unsqueeze(0), objective.content_targets(style.unsqueeze(0)))
    assert terms["content"].item() == pytest.approx(0.0, abs=1e-6)
    assert terms["style"].item() == pytest.approx(0.0, abs=1e-5)
    assert terms["total"].item() == pytest.approx(terms["tv"].item(), rel=1e-4)

    other = torch.rand(3, 32, 32) * 0.5
    mixed = PerceptualLoss(vgg, [style, other], cfg, style_mix=[3.0, 1.0])
    for layer, gram in mixed.style_grams.items():
        g_style = gram_matrix(vgg(style.unsqueeze(0))[layer])
        g_other = gram_matrix(vgg(other.unsqueeze(0))[layer])
        assert torch.allclose(gram, 0.75 * g_style + 0.25 * g_other, atol=1e-6)
    with pytest.raises(FasttxError):
        PerceptualLoss(vgg, [style], cfg, style_mix=[1.0, 2.0])
