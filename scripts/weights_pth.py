"""Reads PyTorch .pth state dicts (zip or legacy format) without torch: a restricted unpickler rebuilds tensors from raw storages."""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from weights_common import ConversionError


# ----------------------------------------------------------------------------------------------
# torch .pth without torch: a restricted unpickler that rebuilds tensors as numpy arrays.
# Handles both the zip format (torch >= 1.6) and the legacy format (magic number, protocol,
# sys_info, pickled object, pickled storage keys, then per storage: int64 numel + raw bytes).

STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _StorageRef:
    def __init__(self, key, stype, numel, view=None):
        self.key, self.stype, self.numel, self.view = key, stype, numel, view


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self, storages):
        ref = self.storage
        base = storages[ref.key]
        offset = self.offset
        if ref.view is not None:
            offset += ref.view[0]
        n = int(np.prod(self.size)) if self.size else 1
        if n == 0:
            return np.zeros(self.size, dtype=base.dtype)
        last = offset + sum((s - 1) * st for s, st in zip(self.size, self.stride))
        if offset < 0 or last >= base.size:
            raise ConversionError("tensor view runs past its storage")
        view = np.lib.stride_tricks.as_strided(
            base[offset:], shape=self.size,
            strides=tuple(st * base.itemsize for st in self.stride), writeable=False)
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


class _TorchUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, f, persistent):
        super().__init__(f, encoding="utf-8")
        self._persistent = persistent

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise ConversionError(f"unexpected object in .pth pickle: {module}.{name}")

    def persistent_load(self, pid):
        return self._persistent(pid)


def _decode(x):
    return x.decode("ascii") if isinstance(x, bytes) else x


def load_pth(path):
    """Returns an OrderedDict name -> numpy array, like torch.load(path) for a state_dict."""
    refs = {}

    def persistent(pid):
        kind = _decode(pid[0])
        if kind != "storage":
            raise ConversionError(f"unexpected persistent id {kind!r} in {path}")
        stype, key, _location, numel = pid[1], _decode(pid[2]), pid[3], pid[4]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(stype, _StorageType):
            raise ConversionError(f"unsupported storage type {stype!r} in {path}")
        if view is not None:  # legacy: (view_key, offset, size) into the root storage
            view = (int(view[1]), int(view[2]))
        ref = _StorageRef(key, stype, int(numel), view)
        refs.setdefault(key, ref)
        return ref

    storages = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pkl = [n for n in names if n.endswith("/data.pkl")]
            if len(pkl) != 1:
                raise ConversionError(f"{path}: expected one */data.pkl, found {pkl}")
            prefix = pkl[0][: -len("data.pkl")]
            if f"{prefix}byteorder" in names and z.read(f"{prefix}byteorder").strip() != b"little":
                raise ConversionError(f"{path}: big-endian checkpoints are not supported")
            obj = _TorchUnpickler(io.BytesIO(z.read(pkl[0])), persistent).load()
            for key, ref in refs.items():
                raw = z.read(f"{prefix}data/{key}")
                storages[key] = np.frombuffer(raw, dtype=ref.stype.dtype)
    else:
        with open(path, "rb") as f:
            magic = pickle.load(f)
            if magic != LEGACY_MAGIC:
                raise ConversionError(f"{path}: neither a zip nor a legacy torch checkpoint")
            protocol = pickle.load(f)
            sys_info = pickle.load(f)
            if protocol != 1001 or not sys_info.get("little_endian", False):
                raise ConversionError(f"{path}: unsupported legacy protocol {protocol} / {sys_info}")
            obj = _TorchUnpickler(f, persistent).load()
            keys = [_decode(k) for k in pickle.load(f)]
            for key in keys:
                ref = refs[key]
                numel = struct.unpack("<q", f.read(8))[0]
                raw = f.read(numel * ref.stype.dtype.itemsize)
                if len(raw) != numel * ref.stype.dtype.itemsize:
                    raise ConversionError(f"{path}: truncated storage {key}")
                storages[key] = np.frombuffer(raw, dtype=ref.stype.dtype)
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: top-level object is {type(obj).__name__}, not a state_dict")
    out = collections.OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            raise ConversionError(f"{path}: entry {name!r} is not a tensor")
        out[name] = value.materialize(storages)
    return out


def torch_state_dict_tensors(path):
    sd = load_pth(path)
    out = collections.OrderedDict()
    for name, arr in sd.items():
        if name.endswith("num_batches_tracked"):
            continue
        if arr.dtype != np.float32:
            raise ConversionError(f"{path}: {name} has dtype {arr.dtype}, expected float32")
        out[name] = arr
    return out
