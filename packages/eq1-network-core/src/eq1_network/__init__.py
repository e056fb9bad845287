"""EQ-1 Network: one standard interface over many communication protocols.

The public API is re-exported here; protocol plugins add themselves under
``eq1_network.protocols`` and through the ``eq1_network.protocols`` entry point.
"""

import logging as _logging

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from eq1_network.common.exceptions import (
    DuplicateProtocolError,
    FragmentError,
    MalformedPacketError,
    PacketError,
    PacketSizeError,
    PluginLoadError,
    ProtocolAuthenticationError,
    ProtocolConfigurationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
    ProtocolNotFoundError,
    ProtocolTimeoutError,
    ProtocolTypeError,
    ProtocolValidationError,
    QueueFullError,
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
from eq1_network.network import (
    NetworkConfig,
    NetworkEvent,
    NetworkEventType,
    NetworkHandler,
    QueueFullPolicy,
    ReconnectPolicy,
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
from eq1_network.plugins import (
    ProtocolManager,
    ProtocolRegistry,
    ProtocolSpec,
    get_protocol,
    hookimpl,
)

__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "NetworkConfig",
    "NetworkEvent",
    "NetworkEventType",
    "NetworkHandler",
    "QueueFullPolicy",
    "ReconnectPolicy",
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
    "PluginLoadError",
    "ProtocolAuthenticationError",
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
    "ProtocolValidationError",
    "PubSubManager",
    "PubSubProtocol",
    "PublishHandle",
    "QueueFullError",
    "Reassembler",
    "ReceivedData",
    "ReqResManager",
    "ReqResProtocol",
    "SendData",
    "TextReceivedData",
    "TextSendData",
    "TypedReceivedData",
    "TypedSendData",
    "__version__",
    "configure_logging",
    "get_protocol",
    "hookimpl",
    "split_message",
]
