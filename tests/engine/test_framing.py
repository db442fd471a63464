"""The node TCP handshake and signed frames, as pure units: what each side takes and refuses."""

from __future__ import annotations

import hmac
import struct

import orjson
import pytest

from engine.protocol.framing import (
    ClientHandshake,
    FrameError,
    FrameSession,
    ServerEnd,
    encode_frame,
)

SECRET = b"the cluster secret"


def body(frame: bytes) -> bytes:
    """A frame without its length prefix, as the receiver hands it to decode."""
    (size,) = struct.unpack(">I", frame[:4])
    assert size == len(frame) - 4
    return frame[4:]


def connect(
    client_secret: bytes = SECRET, server_secret: bytes = SECRET
) -> tuple[FrameSession, ServerEnd]:
    """Run a whole handshake; the client's session and the server's end."""
    client = ClientHandshake(client_secret)
    server = ServerEnd(server_secret)
    request, challenge = server.receive(body(client.hello()))
    assert request is None and challenge is not None
    session, proof = client.finish(body(challenge))
    assert server.receive(body(proof)) == (None, None)
    return session, server


def test_requests_and_answers_go_both_ways_in_order() -> None:
    client, server = connect()
    assert server.session is not None

    for i in range(3):
        request, reply = server.receive(body(client.encode({"op": "read", "i": i})))
        assert (request, reply) == ({"op": "read", "i": i}, None)
        assert client.decode(body(server.session.encode({"id": i, "ok": True}))) == {
            "id": i,
            "ok": True,
        }


def test_a_signed_frame_is_json_that_carries_its_number() -> None:
    client, _ = connect()
    client.encode({"op": "status"})

    frame = orjson.loads(body(client.encode({"op": "status"})))

    assert frame["seq"] == 2 and frame["msg"] == {"op": "status"} and len(frame["sig"]) == 64


def test_a_frame_sent_again_on_the_same_connection_is_refused() -> None:
    client, server = connect()
    frame = body(client.encode({"op": "propose", "command": {}}))
    server.receive(frame)

    with pytest.raises(FrameError, match="frame number 1 where 2 was due"):
        server.receive(frame)


def test_frames_out_of_order_are_refused() -> None:
    client, server = connect()
    client.encode({"op": "read"})  # number 1, never delivered
    second = body(client.encode({"op": "read"}))

    with pytest.raises(FrameError, match="frame number 2 where 1 was due"):
        server.receive(second)


def test_a_frame_of_another_connection_is_refused() -> None:
    client_a, _ = connect()
    _, server_b = connect()

    # Both frames are number 1 on their connection: only the key tells them apart.
    with pytest.raises(FrameError, match="bad signature"):
        server_b.receive(body(client_a.encode({"op": "read"})))


def test_a_frame_reflected_to_its_sender_is_refused() -> None:
    client, server = connect()
    assert server.session is not None
    sent = body(client.encode({"op": "delete_store"}))

    with pytest.raises(FrameError, match="bad signature"):
        client.decode(sent)
    with pytest.raises(FrameError, match="bad signature"):
        server.session.decode(body(server.session.encode({"ok": True})))


@pytest.mark.parametrize("where", [10, 80, -3])
def test_one_byte_changed_is_refused(where: int) -> None:
    client, server = connect()
    frame = bytearray(body(client.encode({"op": "read", "query": {"kind": "stores"}})))
    frame[where] ^= 0x01

    with pytest.raises(FrameError):
        server.receive(bytes(frame))


def test_an_unsigned_request_is_refused_before_and_after_the_handshake() -> None:
    with pytest.raises(FrameError, match="only ping"):
        ServerEnd(SECRET).receive(body(encode_frame({"op": "propose", "command": {}})))
    _, server = connect()
    with pytest.raises(FrameError, match="only ping"):
        server.receive(body(encode_frame({"op": "raft", "msgs": []})))


def test_a_signed_frame_before_the_handshake_is_refused() -> None:
    client, _ = connect()
    with pytest.raises(FrameError, match="before the handshake"):
        ServerEnd(SECRET).receive(body(client.encode({"op": "read"})))


def test_a_second_hello_is_refused() -> None:
    hello = ClientHandshake(SECRET).hello()
    _, server = connect()
    with pytest.raises(FrameError, match="'hello' out of turn"):
        server.receive(body(hello))


def test_ping_is_answered_unsigned_at_any_time() -> None:
    ping = body(encode_frame({"op": "ping", "id": 7}))
    pong = encode_frame({"id": 7, "ok": True, "op": "pong"})
    assert ServerEnd(SECRET).receive(ping) == (None, pong)
    client, server = connect()
    assert server.receive(ping) == (None, pong)
    # An unsigned ping takes no number: the session goes on.
    assert server.receive(body(client.encode({"op": "ping", "id": 8})))[0] == {
        "op": "ping",
        "id": 8,
    }


def test_a_server_without_the_secret_is_found_out_by_the_client() -> None:
    client = ClientHandshake(SECRET)
    server = ServerEnd(b"another secret")
    _, challenge = server.receive(body(client.hello()))
    assert challenge is not None

    with pytest.raises(FrameError, match="the server does not hold"):
        client.finish(body(challenge))


def test_a_client_without_the_secret_is_found_out_by_the_server() -> None:
    client_nonce = b"\x01" * 32
    server = ServerEnd(SECRET)
    _, challenge = server.receive(body(ClientHandshake(b"wrong", client_nonce).hello()))
    assert challenge is not None
    server_nonce = bytes.fromhex(orjson.loads(body(challenge))["nonce"])
    # Such a client cannot check the server's proof; it answers with the proof it can make.
    proof = hmac.digest(b"wrong", b"client-proof" + client_nonce + server_nonce, "sha256")

    with pytest.raises(FrameError, match="the client does not hold"):
        server.receive(body(encode_frame({"op": "proof", "proof": proof.hex()})))


def test_a_refusal_from_the_server_is_reported_with_its_reason() -> None:
    client, _ = connect()
    refusal = encode_frame({"ok": False, "error": {"code": "unauthorized", "message": "why"}})

    with pytest.raises(FrameError, match="refused by the other side: why"):
        client.decode(body(refusal))
    with pytest.raises(FrameError, match="refused by the other side: why"):
        ClientHandshake(SECRET).finish(body(refusal))


def test_bad_nonces_are_refused() -> None:
    for nonce in ("ab", "zz" * 32, 5, None):
        with pytest.raises(FrameError, match="nonce"):
            ServerEnd(SECRET).receive(body(encode_frame({"op": "hello", "nonce": nonce})))
