"""Generates torch-like-samples.json: small torch.save-style zips written by Python's own pickle and
zipfile modules (an implementation independent of ours), without needing torch. A fake `torch` module
supplies the globals so pickle references them exactly as torch does.
Run: python3 make-torch-like-samples.py && npx prettier --write torch-like-samples.json
(zip timestamps make every run differ byte-wise; the expected tensors stay the same).
"""
import base64, collections, io, json, pickle, struct, sys, types, zipfile

torch = types.ModuleType('torch')
utils = types.ModuleType('torch._utils')
torch._utils = utils
sys.modules['torch'] = torch
sys.modules['torch._utils'] = utils


def fn(module, name):
    def f(*a):
        raise RuntimeError('never called')
    f.__module__, f.__qualname__, f.__name__ = module.__name__, name, name
    setattr(module, name, f)
    return f


rebuild_v2 = fn(utils, '_rebuild_tensor_v2')
rebuild_v3 = fn(utils, '_rebuild_tensor_v3')
rebuild_param = fn(utils, '_rebuild_parameter')


def cls(name):
    c = type(name, (), {'__module__': 'torch'})
    setattr(torch, name, c)
    return c


HalfStorage, FloatStorage, BFloat16Storage, UntypedStorage = (cls(n) for n in
    ('HalfStorage', 'FloatStorage', 'BFloat16Storage', 'UntypedStorage'))


class DType:
    __module__ = 'torch'

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name


torch.float16 = DType('float16')


class Storage:
    def __init__(self, kind, key, data, numel):
        self.kind, self.key, self.data, self.numel = kind, key, data, numel


class Tensor:
    def __init__(self, storage, offset, size, stride, v3_dtype=None):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())
        self.v3_dtype = v3_dtype

    def __reduce_ex__(self, proto):
        if self.v3_dtype is not None:
            return (rebuild_v3, self.args + (self.v3_dtype,))
        return (rebuild_v2, self.args)


class Param:
    def __init__(self, t):
        self.t = t

    def __reduce_ex__(self, proto):
        return (rebuild_param, (self.t, False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', obj.kind, obj.key, 'cpu', obj.numel)
        return None


def f16(vals): return struct.pack(f'<{len(vals)}e', *vals)
def f32(vals): return struct.pack(f'<{len(vals)}f', *vals)
def bf16(vals): return b''.join(struct.pack('<f', v)[2:] for v in vals)  # exact for these values


s_a = Storage(HalfStorage, '0', f16([1, -2, 0.5, 3, 65504, -0.25]), 6)
s_b = Storage(FloatStorage, '1', f32([1.5, -2.25, 1e-3]), 3)
s_shared = Storage(BFloat16Storage, '2', bf16([1, 2, 3, 4, 5, 6]), 6)
s_untyped = Storage(UntypedStorage, '3', f16([7, 8]), 4)  # untyped: numel counts bytes

sd = collections.OrderedDict()
sd['a'] = Tensor(s_a, 0, (2, 3), (3, 1))
sd['b'] = Param(Tensor(s_b, 0, (3,), (1,)))
sd['c'] = Tensor(s_shared, 2, (2, 2), (2, 1))    # a view into a shared storage
sd['d'] = Tensor(s_shared, 0, (1, 2), (99, 1))   # size-1 dim with an arbitrary stride
sd['e'] = Tensor(s_untyped, 0, (2,), (1,), v3_dtype=torch.float16)
sd._metadata = {'': {'version': 1}}               # state_dict() attaches this; pickled via BUILD
root = {'state_dict': sd, 'epoch': 3, 'note': b'\x00\x01'}
storages = [s_a, s_b, s_shared, s_untyped]

expected = {
    'a': {'dtype': 'f16', 'shape': [2, 3], 'hex': f16([1, -2, 0.5, 3, 65504, -0.25]).hex()},
    'b': {'dtype': 'f32', 'shape': [3], 'hex': f32([1.5, -2.25, 1e-3]).hex()},
    'c': {'dtype': 'bf16', 'shape': [2, 2], 'hex': bf16([3, 4, 5, 6]).hex()},
    'd': {'dtype': 'bf16', 'shape': [1, 2], 'hex': bf16([1, 2]).hex()},
    'e': {'dtype': 'f16', 'shape': [2], 'hex': f16([7, 8]).hex()},
}


def make(protocol, folder, compression, zip64):
    buf = io.BytesIO()
    Pickler(buf, protocol=protocol).dump(root)
    out = io.BytesIO()
    old = zipfile.ZIP64_LIMIT
    if zip64:
        zipfile.ZIP64_LIMIT = 8  # makes zipfile write ZIP64 extras and end records for tiny files
    try:
        with zipfile.ZipFile(out, 'w', compression=compression) as z:
            z.writestr(f'{folder}/data.pkl', buf.getvalue())
            z.writestr(f'{folder}/byteorder', 'little')
            for s in storages:
                z.writestr(f'{folder}/data/{s.key}', s.data)
            z.writestr(f'{folder}/version', '3\n')
            z.writestr(f'{folder}/.data/serialization_id', '1234567890')
    finally:
        zipfile.ZIP64_LIMIT = old
    return base64.b64encode(out.getvalue()).decode()


samples = {
    'p2-stored': make(2, 'model-a', zipfile.ZIP_STORED, False),
    'p3-deflated': make(3, 'archive', zipfile.ZIP_DEFLATED, False),
    'p4-zip64': make(4, 'archive', zipfile.ZIP_STORED, True),
    'p5-zip64-deflated': make(5, 'x', zipfile.ZIP_DEFLATED, True),
}
json.dump({'expected': expected, 'samples': samples}, open('torch-like-samples.json', 'w'), indent=1)
