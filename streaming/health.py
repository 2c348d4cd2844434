"""Is the broker answering? One Kafka Metadata round trip on a plain socket with a hard timeout.

A KafkaAdminClient would do, but it starts an I/O thread before bootstrapping and keeps it when
the bootstrap fails; a health check that runs every few seconds during an outage must not leak
a thread per call. This probe owns nothing but one socket, closed on every path.
"""
import socket
import struct
import time

from kafka.protocol.metadata import MetadataRequest, MetadataResponse

METADATA_VERSION = 1  # the oldest with controller_id; every Kafka >= 0.10 and Tansu answer it


class BrokerUnavailable(Exception):
    pass


def _recv_exactly(sock, size):
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _metadata(host, port, deadline):
    request = MetadataRequest(version=METADATA_VERSION, topics=MetadataRequest.NO_TOPICS)
    request.with_header(correlation_id=1, client_id="firstcome-health")
    with socket.create_connection((host, port), timeout=max(deadline - time.monotonic(), 0.01)) as sock:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        sock.sendall(request.encode(header=True, framed=True))
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        return MetadataResponse.decode(_recv_exactly(sock, size), version=METADATA_VERSION, header=True)


def broker_ping(bootstrap_servers, timeout_s=1.0):
    """Ask the bootstrap servers in turn for cluster metadata; return the number of brokers the
    first one that answers knows. Raise BrokerUnavailable naming every address that failed."""
    deadline = time.monotonic() + timeout_s
    errors = []
    for address in bootstrap_servers:
        host, _, port = address.rpartition(":")
        try:
            response = _metadata(host.strip("[]") or "localhost", int(port), deadline)
        except (OSError, ValueError) as exc:  # refused, timed out, reset, garbled
            errors.append(f"{address}: {exc.__class__.__name__} {exc}".strip())
            if time.monotonic() >= deadline:
                break
            continue
        if not response.brokers:
            errors.append(f"{address}: answered without any broker in its metadata")
            continue
        return len(response.brokers)
    raise BrokerUnavailable("; ".join(errors) or "no bootstrap servers configured")
