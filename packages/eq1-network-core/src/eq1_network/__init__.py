"""EQ-1 Network: one standard interface over many communication protocols.

The public API is re-exported here; protocol plugins add themselves under
``eq1_network.protocols`` and through the ``eq1_network.protocols`` entry point.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

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
from eq1_network.common.lazy import LazyExports as _LazyExports
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
from eq1_network.plugins import (
    ProtocolManager,
    ProtocolRegistry,
    ProtocolSpec,
    ProtocolUnavailableError,
    from_url,
    get_protocol,
    hookimpl,
)

if _TYPE_CHECKING:  # the names of _LAZY_EXPORTS, for type checkers (a test keeps them equal)
    from eq1_network.common.policies import OverflowPolicy as OverflowPolicy
    from eq1_network.common.policies import QueueFullPolicy as QueueFullPolicy
    from eq1_network.common.policies import ReconnectPolicy as ReconnectPolicy
    from eq1_network.common.policies import TLSConfig as TLSConfig
    from eq1_network.manager import PubSubManager as PubSubManager
    from eq1_network.manager import ReqResManager as ReqResManager
    from eq1_network.network import NetworkConfig as NetworkConfig
    from eq1_network.network import NetworkEvent as NetworkEvent
    from eq1_network.network import NetworkEventType as NetworkEventType
    from eq1_network.network import NetworkHandler as NetworkHandler
    from eq1_network.network import StopReport as StopReport
    from eq1_network.package import ANY_PACKAGE as ANY_PACKAGE
    from eq1_network.package import BINARY_PACKAGE as BINARY_PACKAGE
    from eq1_network.package import INT_PACKAGE as INT_PACKAGE
    from eq1_network.package import JSON_PACKAGE as JSON_PACKAGE
    from eq1_network.package import TEXT_PACKAGE as TEXT_PACKAGE
    from eq1_network.package import DataPackage as DataPackage
    from eq1_network.packets import BinaryReceivedData as BinaryReceivedData
    from eq1_network.packets import BinarySendData as BinarySendData
    from eq1_network.packets import DataFormat as DataFormat
    from eq1_network.packets import IntReceivedData as IntReceivedData
    from eq1_network.packets import IntSendData as IntSendData
    from eq1_network.packets import JsonReceivedData as JsonReceivedData
    from eq1_network.packets import JsonSendData as JsonSendData
    from eq1_network.packets import Message as Message
    from eq1_network.packets import MessageFlags as MessageFlags
    from eq1_network.packets import MessageType as MessageType
    from eq1_network.packets import NetworkPacketStructure as NetworkPacketStructure
    from eq1_network.packets import PacketStream as PacketStream
    from eq1_network.packets import Reassembler as Reassembler
    from eq1_network.packets import TextReceivedData as TextReceivedData
    from eq1_network.packets import TextSendData as TextSendData
    from eq1_network.packets import TypedReceivedData as TypedReceivedData
    from eq1_network.packets import TypedSendData as TypedSendData
    from eq1_network.packets import split_message as split_message

__version__ = "0.1.0"

# Loaded on first use, so that ``import eq1_network`` stays cheap for applications that
# only look protocols up.
_LAZY_EXPORTS: dict[str, tuple[str, ...]] = {
    "eq1_network.common.policies": (
        "OverflowPolicy",
        "QueueFullPolicy",
        "ReconnectPolicy",
        "TLSConfig",
    ),
    "eq1_network.manager": ("PubSubManager", "ReqResManager"),
    "eq1_network.network": (
        "NetworkConfig",
        "NetworkEvent",
        "NetworkEventType",
        "NetworkHandler",
        "StopReport",
    ),
    "eq1_network.package": (
        "ANY_PACKAGE",
        "BINARY_PACKAGE",
        "INT_PACKAGE",
        "JSON_PACKAGE",
        "TEXT_PACKAGE",
        "DataPackage",
    ),
    "eq1_network.packets": (
        "BinaryReceivedData",
        "BinarySendData",
        "DataFormat",
        "IntReceivedData",
        "IntSendData",
        "JsonReceivedData",
        "JsonSendData",
        "Message",
        "MessageFlags",
        "MessageType",
        "NetworkPacketStructure",
        "PacketStream",
        "Reassembler",
        "TextReceivedData",
        "TextSendData",
        "TypedReceivedData",
        "TypedSendData",
        "split_message",
    ),
}
_EXPORTS = _LazyExports(__name__, globals(), _LAZY_EXPORTS)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir

__all__ = [
    "BaseProtocol",
    "CompletedPublish",
    "DuplicateProtocolError",
    "FragmentError",
    "FrameTooLargeError",
    "MalformedPacketError",
    "MessageCallback",
    "PacketError",
    "PacketSizeError",
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
    "PubSubProtocol",
    "PublishHandle",
    "QueueFullError",
    "ReceivedData",
    "RemoteProtocolError",
    "ReqResProtocol",
    "SendData",
    "__version__",
    "configure_logging",
    "from_url",
    "get_protocol",
    "hookimpl",
    *sorted(_EXPORTS.names),
]
