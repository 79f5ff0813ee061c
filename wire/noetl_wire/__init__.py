"""The NoETL control-plane wire contract shared by the worker and the stand-in control plane.

Every body that crosses the wire has a pydantic model here. Ids are Python ints end to end (snowflakes
exceed 2^53); unknown fields are tolerated on input. Import the main names from this package, or the
rarer ones from their modules (``noetl_wire.keychain``, ``noetl_wire.variables``, ...).
"""

from noetl_wire.commands import ClaimedCommand, ClaimRequest, CommandContext, CommandMeta, CommandView, is_result_ref
from noetl_wire.credentials import Credential, CredentialCreate
from noetl_wire.errors import ErrorBody, ErrorCode, ErrorDetail, error_body, parse_error_code, parse_retry_after
from noetl_wire.events import (
    BatchEvent,
    BatchEventRequest,
    BatchEventResponse,
    BatchStatusResponse,
    EventName,
    EventRequest,
    EventResponse,
    validate_reference_only_payload,
)
from noetl_wire.ids import CommandIdValue, IdString, Snowflake
from noetl_wire.pointer import CommandPointer, PointerDecodeError, decode_pointer, encode_pointer
from noetl_wire.pool import PoolStatus
from noetl_wire.results import ResultPutRequest, ResultPutResponse, ResultReference, build_result_uri, parse_result_uri
from noetl_wire.snowflake import SnowflakeGenerator
from noetl_wire.urls import api_url
from noetl_wire.variables import SetVariablesRequest, SetVariablesResponse, VariableResponse, VariablesResponse
from noetl_wire.workers import (
    DeregisterRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    RegisterResponse,
    WorkerRegistration,
)

__version__ = "0.1.0"

__all__ = [
    "BatchEvent",
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchStatusResponse",
    "ClaimRequest",
    "ClaimedCommand",
    "CommandContext",
    "CommandIdValue",
    "CommandMeta",
    "CommandPointer",
    "CommandView",
    "Credential",
    "CredentialCreate",
    "DeregisterRequest",
    "ErrorBody",
    "ErrorCode",
    "ErrorDetail",
    "EventName",
    "EventRequest",
    "EventResponse",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "IdString",
    "PointerDecodeError",
    "PoolStatus",
    "RegisterResponse",
    "ResultPutRequest",
    "ResultPutResponse",
    "ResultReference",
    "SetVariablesRequest",
    "SetVariablesResponse",
    "Snowflake",
    "SnowflakeGenerator",
    "VariableResponse",
    "VariablesResponse",
    "WorkerRegistration",
    "api_url",
    "build_result_uri",
    "decode_pointer",
    "encode_pointer",
    "error_body",
    "is_result_ref",
    "parse_error_code",
    "parse_result_uri",
    "parse_retry_after",
    "validate_reference_only_payload",
]
