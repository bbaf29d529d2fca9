"""Import-only stand-in for async_promises, which Debian does not package.

`import py2p` imports py2p.chord and py2p.ford, which import `Promise` at module level; the
mesh socket never creates one. Creating one here fails loudly instead of misbehaving.
"""


class Promise(object):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "py2p_shim: async_promises is not available (chord/ford sockets are unsupported)")
