"""base58 0.2.5 API (as py2p 0.7.870 uses it) on top of Debian's base58 1.0.3.

0.2.5's b58encode and b58encode_int return str; 1.0.3 returns bytes. py2p calls .encode()
on those results and sends the protocol id as a msgpack str, so the wrapper returns str.
b58decode_int accepts str and bytes in both versions and is re-exported unchanged.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _load_real_base58():
    # This file shadows the real module; find the next `base58` on sys.path after us.
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("base58", path)
    if spec is None:
        raise ImportError("py2p_shim: the real base58 module (python3-base58) is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_real = _load_real_base58()

alphabet = _real.alphabet
b58decode = _real.b58decode
b58decode_int = _real.b58decode_int
b58decode_check = _real.b58decode_check


def _text(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


def b58encode(v):
    return _text(_real.b58encode(v))


def b58encode_int(i, default_one=True):
    return _text(_real.b58encode_int(i, default_one=default_one))


def b58encode_check(v):
    return _text(_real.b58encode_check(v))
