"""Rebuild skaloe's embedded GE2E weights from the Resemblyzer 0.1.4 wheel, without torch.

skaloe's ``"ge2e"`` encoder runs the speaker encoder of Resemblyzer 0.1.4
(Apache-2.0; Wan et al., "Generalized End-to-End Loss for Speaker
Verification", ICASSP 2018). This script turns the wheel's ``pretrained.pt``
into ``skaloe/encoders/data/ge2e.npz``::

    pip download --no-deps resemblyzer==0.1.4 -d wheels
    python tools/convert_ge2e.py wheels/Resemblyzer-0.1.4-py3-none-any.whl

``pretrained.pt`` is in torch's legacy (pre-1.6) serialisation: five pickles
in a row (magic number, protocol version, system information, the checkpoint,
the list of storage keys) followed by each storage's raw little-endian bytes,
each behind an int64 element count. It is read here with an unpickler that
allows only the few globals such a checkpoint needs (``OrderedDict``,
torch's tensor rebuilder and storage type names, which become markers), and
builds numpy arrays from the raw storages: no torch, and no code from the file
runs. The wheel and ``pretrained.pt`` are checked against the SHA-256 sums
below; the written file (written byte for byte the same on every run) is
checked against its own sum, which ``skaloe.encoders._ge2e`` verifies again
when it loads it.

Only the network's parameters are kept: the three LSTM layers and the final
linear layer (the optimiser state and the GE2E loss's scale are dropped).
"""

import argparse
import hashlib
import io
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"
CHECKPOINT_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
OUTPUT = Path(__file__).resolve().parent.parent / "skaloe" / "encoders" / "data" / "ge2e.npz"

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

#: torch storage type name -> numpy dtype
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

#: the parameters kept, with their shapes (PyTorch's names)
KEPT = {
    **{f"lstm.weight_ih_l{k}": (1024, 40 if k == 0 else 256) for k in range(3)},
    **{f"lstm.weight_hh_l{k}": (1024, 256) for k in range(3)},
    **{f"lstm.bias_ih_l{k}": (1024,) for k in range(3)},
    **{f"lstm.bias_hh_l{k}": (1024,) for k in range(3)},
    "linear.weight": (256, 256),
    "linear.bias": (256,),
}


class _StorageType:
    """A marker standing for a ``torch.*Storage`` class named in the pickle."""

    def __init__(self, name):
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _Storage:
    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *rest):
    return _Tensor(storage, offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows OrderedDict, torch's tensor rebuilder and storage type names; nothing else.

    The storages that persistent ids name are collected in ``storages``.
    """

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: not part of a plain torch checkpoint")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and saved_id and saved_id[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r}")
        storage_type, key, _location, numel, view = saved_id[1:6]
        if not isinstance(storage_type, _StorageType) or view is not None:
            raise pickle.UnpicklingError(f"unsupported storage {saved_id!r}")
        return self.storages.setdefault(key, _Storage(key, storage_type.dtype, int(numel)))


def read_legacy_checkpoint(data):
    """The checkpoint object of a legacy torch file, with tensors as numpy arrays."""
    f = io.BytesIO(data)

    def load():
        return _RestrictedUnpickler(f).load()

    if load() != LEGACY_MAGIC:
        raise ValueError("not a legacy torch checkpoint (wrong magic number)")
    if load() != LEGACY_PROTOCOL:
        raise ValueError("unsupported legacy torch protocol version")
    sys_info = load()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError("only little-endian checkpoints are supported")
    unpickler = _RestrictedUnpickler(f)
    checkpoint = unpickler.load()
    storages = unpickler.storages
    keys = load()
    buffers = {}
    for key in keys:
        (numel,) = struct.unpack("<q", f.read(8))
        storage = storages[key]
        if numel != storage.numel:
            raise ValueError(f"storage {key}: {numel} elements, expected {storage.numel}")
        raw = f.read(numel * storage.dtype.itemsize)
        if len(raw) != numel * storage.dtype.itemsize:
            raise ValueError(f"storage {key} is truncated")
        buffers[key] = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))

    def to_numpy(obj):
        if isinstance(obj, _Tensor):
            base = buffers[obj.storage.key]
            item = base.dtype.itemsize
            return np.lib.stride_tricks.as_strided(
                base[obj.offset:], shape=obj.size, strides=[s * item for s in obj.stride],
            ).copy()
        if isinstance(obj, dict):
            return type(obj)((k, to_numpy(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return type(obj)(to_numpy(v) for v in obj)
        return obj

    return to_numpy(checkpoint)


def deterministic_npz(arrays):
    """The bytes of an .npz (zip of .npy files) that depend on the arrays alone."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue(), compresslevel=9)
    return out.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def convert(wheel):
    wheel_bytes = Path(wheel).read_bytes()
    if sha256(wheel_bytes) != WHEEL_SHA256:
        raise SystemExit(f"{wheel} is not the Resemblyzer 0.1.4 wheel (SHA-256 differs)")
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as zf:
        checkpoint_bytes = zf.read("resemblyzer/pretrained.pt")
    if sha256(checkpoint_bytes) != CHECKPOINT_SHA256:
        raise SystemExit("resemblyzer/pretrained.pt differs from the expected file")
    checkpoint = read_legacy_checkpoint(checkpoint_bytes)
    state = checkpoint["model_state"]
    arrays = {}
    for name, shape in KEPT.items():
        value = np.asarray(state[name], dtype="<f4")
        if value.shape != shape:
            raise SystemExit(f"{name} has shape {value.shape}, expected {shape}")
        arrays[name.replace(".", "_")] = value
    return deterministic_npz(arrays), checkpoint.get("step")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", help="Resemblyzer-0.1.4-py3-none-any.whl")
    parser.add_argument("-o", "--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    data, step = convert(args.wheel)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output}: {len(data)} bytes, sha256 {sha256(data)} "
          f"(checkpoint step {step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
