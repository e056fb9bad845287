"""Built-in in-process protocols: ``loopback`` (request/response) and ``memory`` (pub/sub).

They are the embedded default used by the demo and the reference implementations for
plugin authors. Import the classes from their modules
(:mod:`eq1_network.protocols.loopback.reqres`, :mod:`eq1_network.protocols.loopback.memory`).
"""
