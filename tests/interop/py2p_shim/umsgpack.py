"""u-msgpack-python 2.x API (as py2p 0.7.870 uses it) on top of Debian's python3-msgpack.

The options reproduce umsgpack's Python 3 behaviour: bytes <-> bin, str <-> str, arrays as
lists, any hashable map key. Integers always take the smallest encoding and floats are
float64 in both libraries, so the bytes written are identical.
"""

import msgpack


class UnsupportedTypeException(Exception):
    """Raised, as by umsgpack, when an object cannot be serialized."""


class InsufficientDataException(Exception):
    """Raised, as by umsgpack, when the input ends in the middle of an object."""


def packb(obj, **options):
    try:
        return msgpack.packb(obj, use_bin_type=True, **options)
    except (TypeError, OverflowError) as e:
        # msgpack raises TypeError (unknown type) or OverflowError (int >= 2**64 or
        # < -2**63); umsgpack raised this one exception for both, and py2p catches it.
        raise UnsupportedTypeException(*e.args) from e


def unpackb(data, **options):
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, **options)
    except msgpack.OutOfData as e:
        raise InsufficientDataException(*e.args) from e


def pack(obj, fp, **options):
    fp.write(packb(obj, **options))


def unpack(fp, **options):
    return unpackb(fp.read(), **options)


dumps = packb
loads = unpackb
dump = pack
load = unpack
