"""EQ-1 Network: one standard interface over many communication protocols.

The public API is re-exported here; protocol plugins add themselves under
``eq1_network.protocols`` and through the ``eq1_network.protocols`` entry point.
"""

import importlib as _importlib
import logging as _logging
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from eq1_network.common.exceptions import (
    DuplicateProtocolError,
    FragmentError,
    FrameTooLargeError,
    MalformedPacketError,
    PacketError,
    PacketSizeError,
    PayloadTooLargeError,
    PluginLoadError,
    ProtocolArgumentError,
    ProtocolAuthenticationError,
    ProtocolClosedError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolNotFoundError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    ProtocolUsageError,
    ProtocolValidationError,
    QueueFullError,
    RemoteProtocolError,
)
from eq1_network.common.logging import configure_logging
from eq1_network.data import ReceivedData, SendData
from eq1_network.interfaces import (
    BaseProtocol,
    CompletedPublish,
    MessageCallback,
    PacketStructureInterface,
    ProtocolKind,
    PublishHandle,
    PubSubProtocol,
    ReqResProtocol,
)
from eq1_network.manager import PubSubManager, ReqResManager
from eq1_network.plugins import (
    ProtocolManager,
    ProtocolRegistry,
    ProtocolSpec,
    ProtocolUnavailableError,
    from_url,
    get_protocol,
    hookimpl,
)

if _TYPE_CHECKING:
    from eq1_network.common.policies import (
        OverflowPolicy,
        QueueFullPolicy,
        ReconnectPolicy,
        TLSConfig,
    )
    from eq1_network.network import (
        NetworkConfig,
        NetworkEvent,
        NetworkEventType,
        NetworkHandler,
        StopReport,
    )
    from eq1_network.package import (
        ANY_PACKAGE,
        BINARY_PACKAGE,
        INT_PACKAGE,
        JSON_PACKAGE,
        TEXT_PACKAGE,
        DataPackage,
    )
    from eq1_network.packets import (
        BinaryReceivedData,
        BinarySendData,
        DataFormat,
        IntReceivedData,
        IntSendData,
        JsonReceivedData,
        JsonSendData,
        Message,
        MessageFlags,
        MessageType,
        NetworkPacketStructure,
        PacketStream,
        Reassembler,
        TextReceivedData,
        TextSendData,
        TypedReceivedData,
        TypedSendData,
        split_message,
    )

__version__ = "0.1.0"

# Loaded on first use, so that ``import eq1_network`` stays cheap for applications that
# only need the protocols and managers.
_LAZY: dict[str, str] = {
    "ANY_PACKAGE": "eq1_network.package",
    "BINARY_PACKAGE": "eq1_network.package",
    "BinaryReceivedData": "eq1_network.packets",
    "BinarySendData": "eq1_network.packets",
    "DataFormat": "eq1_network.packets",
    "DataPackage": "eq1_network.package",
    "INT_PACKAGE": "eq1_network.package",
    "IntReceivedData": "eq1_network.packets",
    "IntSendData": "eq1_network.packets",
    "JSON_PACKAGE": "eq1_network.package",
    "JsonReceivedData": "eq1_network.packets",
    "JsonSendData": "eq1_network.packets",
    "Message": "eq1_network.packets",
    "MessageFlags": "eq1_network.packets",
    "MessageType": "eq1_network.packets",
    "NetworkConfig": "eq1_network.network",
    "NetworkEvent": "eq1_network.network",
    "NetworkEventType": "eq1_network.network",
    "NetworkHandler": "eq1_network.network",
    "NetworkPacketStructure": "eq1_network.packets",
    "PacketStream": "eq1_network.packets",
    "OverflowPolicy": "eq1_network.common.policies",
    "QueueFullPolicy": "eq1_network.common.policies",
    "Reassembler": "eq1_network.packets",
    "ReconnectPolicy": "eq1_network.common.policies",
    "StopReport": "eq1_network.network",
    "TEXT_PACKAGE": "eq1_network.package",
    "TLSConfig": "eq1_network.common.policies",
    "TextReceivedData": "eq1_network.packets",
    "TextSendData": "eq1_network.packets",
    "TypedReceivedData": "eq1_network.packets",
    "TypedSendData": "eq1_network.packets",
    "split_message": "eq1_network.packets",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "NetworkConfig",
    "NetworkEvent",
    "NetworkEventType",
    "NetworkHandler",
    "OverflowPolicy",
    "QueueFullPolicy",
    "ReconnectPolicy",
    "TLSConfig",
    "StopReport",
    "ANY_PACKAGE",
    "BINARY_PACKAGE",
    "INT_PACKAGE",
    "JSON_PACKAGE",
    "TEXT_PACKAGE",
    "BaseProtocol",
    "BinaryReceivedData",
    "BinarySendData",
    "CompletedPublish",
    "DataFormat",
    "DataPackage",
    "DuplicateProtocolError",
    "FragmentError",
    "FrameTooLargeError",
    "IntReceivedData",
    "IntSendData",
    "JsonReceivedData",
    "JsonSendData",
    "MalformedPacketError",
    "Message",
    "MessageCallback",
    "MessageFlags",
    "MessageType",
    "NetworkPacketStructure",
    "PacketError",
    "PacketSizeError",
    "PacketStream",
    "PacketStructureInterface",
    "PayloadTooLargeError",
    "PluginLoadError",
    "ProtocolArgumentError",
    "ProtocolAuthenticationError",
    "ProtocolClosedError",
    "ProtocolConfigurationError",
    "ProtocolConnectionError",
    "ProtocolError",
    "ProtocolKind",
    "ProtocolManager",
    "ProtocolNotConnectedError",
    "ProtocolNotFoundError",
    "ProtocolRegistry",
    "ProtocolSpec",
    "ProtocolTimeoutError",
    "ProtocolTypeError",
    "ProtocolUnavailableError",
    "ProtocolUsageError",
    "ProtocolValidationError",
    "PubSubManager",
    "PubSubProtocol",
    "PublishHandle",
    "QueueFullError",
    "Reassembler",
    "ReceivedData",
    "RemoteProtocolError",
    "ReqResManager",
    "ReqResProtocol",
    "SendData",
    "TextReceivedData",
    "TextSendData",
    "TypedReceivedData",
    "TypedSendData",
    "__version__",
    "configure_logging",
    "from_url",
    "get_protocol",
    "hookimpl",
    "split_message",
]
